using CimAspire.Cli;

namespace CimAspire.Tests.Cli;

public class ChatInputTests
{
    [Theory]
    [InlineData("hello", "hello")]
    [InlineData("  spaced out  ", "spaced out")]
    [InlineData(":smile: first", ":smile: first")]
    [InlineData("a;;b", "a;;b")]
    public void Plain_lines_go_to_the_current_conversation(string line, string text) =>
        Assert.Equal(new ChatInput.ToCurrent(text), ChatInput.Parse(line));

    [Fact]
    public void Commands_directs_and_bad_input_are_recognised()
    {
        Assert.Equal(new ChatInput.Command("q!", string.Empty), ChatInput.Parse(":q!"));
        Assert.Equal(new ChatInput.Command("q", "some words"), ChatInput.Parse(":q some words"));
        Assert.Equal(new ChatInput.Command("group", "create the team"), ChatInput.Parse(":GROUP create the team"));
        Assert.Equal(new ChatInput.ToUserName("alice", "hi there"), ChatInput.Parse("@alice hi there"));
        Assert.Equal(new ChatInput.ToUserId(42, "hi;;there"), ChatInput.Parse("42;;hi;;there"));
        Assert.IsType<ChatInput.Invalid>(ChatInput.Parse("@alice"));
        Assert.IsType<ChatInput.Invalid>(ChatInput.Parse("0;;zero"));
        Assert.IsType<ChatInput.Invalid>(ChatInput.Parse("7;;   "));
        Assert.IsType<ChatInput.Empty>(ChatInput.Parse("   "));
        Assert.IsType<ChatInput.Empty>(ChatInput.Parse(null));
    }

    [Fact]
    public void Emoji_shortcodes_render_and_unknown_ones_stay()
    {
        Assert.Equal("hi 😄 :nope: 👍", Emoji.Render("hi :smile: :nope: :thumbsup:"));
        Assert.Equal(Emoji.PageSize, Emoji.Page(0).Count);
        Assert.Empty(Emoji.Page(Emoji.Pages));
        Assert.Equal(Emoji.All.Count, Enumerable.Range(0, Emoji.Pages).Sum(p => Emoji.Page(p).Count));
    }

    [Fact]
    public void Options_come_from_arguments_then_the_environment()
    {
        var env = new Dictionary<string, string?> { ["CIM_ROUTE"] = "http://route:1234", ["CIM_USER"] = "envuser" };
        var options = CliOptions.Parse(["--password", "pw", "--register"], k => env.GetValueOrDefault(k), out var error);
        Assert.Null(error);
        Assert.Equal(new Uri("http://route:1234/"), options!.Route);
        Assert.Equal("envuser", options.User);
        Assert.True(options.Register);

        var explicitRoute = CliOptions.Parse(["--route", "http://other:9/", "--user", "me", "--no-color"], k => env.GetValueOrDefault(k), out _);
        Assert.Equal(new Uri("http://other:9/"), explicitRoute!.Route);
        Assert.False(explicitRoute.Color);

        Assert.Equal(new Uri(CliOptions.DefaultRoute), CliOptions.Parse([], _ => null, out _)!.Route);
        Assert.Null(CliOptions.Parse(["--route", "ftp://x"], _ => null, out error));
        Assert.Contains("not an http(s) address", error);
        Assert.Null(CliOptions.Parse(["--bogus"], _ => null, out error));
        Assert.Equal("Unknown option '--bogus'.", error);
    }
}
