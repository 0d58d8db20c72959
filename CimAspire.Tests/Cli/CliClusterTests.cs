using System.Text.RegularExpressions;
using CimAspire.Cli;
using CimAspire.Client;
using CimAspire.Protocol;
using CimAspire.Tests.Cluster;

namespace CimAspire.Tests.Cli;

/// <summary>Two <c>cim</c> processes against the whole graph, driven through standard input and output.</summary>
[Collection("cluster")]
public sealed partial class CliClusterTests(ClusterFixture cluster) : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly List<CimProcess> _processes = [];
    private readonly HttpClient _http = cluster.CreateRouteClient();

    private Uri Route => _http.BaseAddress!;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }

        _http.Dispose();
    }

    [Fact]
    public async Task Two_console_clients_chat_through_the_cluster()
    {
        var (alice, aliceName) = await StartAsync("alice");
        var (bob, bobName) = await StartAsync("bob");

        var from = bob.LineCount;
        await alice.SendAsync("hello room :wave:");
        var line = await bob.WaitForAsync($"{aliceName}: hello room", from, Timeout);
        Assert.Matches(MessageLine(), line);
        Assert.EndsWith("hello room 👋", line);

        from = alice.LineCount;
        await bob.SendAsync($"@{aliceName} just us");
        Assert.EndsWith($"(@{bobName}) {bobName}: just us", await alice.WaitForAsync("just us", from, Timeout));

        var aliceId = IdFrom(await alice.CommandAsync(":info", $"user {aliceName} (id "));
        await bob.SendAsync($"{aliceId};;cim style");
        await alice.WaitForAsync($"{bobName}: cim style", from, Timeout);

        await alice.SendAsync(":q!");
        Assert.Equal(0, await alice.WaitForExitAsync(Timeout));
        Assert.Contains("-- bye", alice.Lines);
    }

    [Fact]
    public async Task Each_command_works_against_the_cluster()
    {
        var (alice, aliceName) = await StartAsync("alice");
        var (bob, bobName) = await StartAsync("bob");

        await alice.CommandAsync(":all", ":delay <msg> <seconds>");
        await alice.CommandAsync(":nonsense", "Unknown command ':nonsense'");
        await alice.CommandAsync(":emoji 2", ":cry:");
        await alice.CommandAsync($":pu {bobName[..6]}", $"(id ");
        await alice.CommandAsync(":olu", "user(s) online.");

        var from = alice.LineCount;
        await bob.SendAsync("the weather is fine");
        await alice.WaitForAsync($"{bobName}: the weather is fine", from, Timeout);
        await alice.CommandAsync(":q weather", $"{bobName}: the *weather* is fine");
        await alice.CommandAsync(":history 5", $"{bobName}: the weather is fine");
        await alice.CommandAsync(":convs", "#everyone");

        var created = await alice.CommandAsync($":group create team{Guid.NewGuid():N}"[..24], "created group #");
        var groupId = long.Parse(GroupId().Match(created).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        await bob.CommandAsync($":group join {groupId}", "joined #");
        await alice.CommandAsync($":members {groupId}", "2 member(s) in #");
        await alice.CommandAsync($":to #{groupId}", "talking in #");
        from = bob.LineCount;
        await alice.SendAsync("team talk");
        await bob.WaitForAsync($"{aliceName}: team talk", from, Timeout);

        await bob.CommandAsync(":delay later-on 1", "will send in 1 s");
        await alice.WaitForAsync($"{bobName}: later-on", null, Timeout);
        await bob.CommandAsync($":group leave {groupId}", "left #");
        await bob.CommandAsync($":to {aliceName}", $"talking in @{aliceName}");

        // Typing, from an SDK client of bob's conversation partner.
        var aliceId = IdFrom(await alice.CommandAsync(":info", "(id "));
        await using var carol = new CimClient(new CimClientOptions { RouteApi = Route }, _http);
        var carolName = $"carol_{Guid.NewGuid():N}"[..14];
        await carol.RegisterAsync(carolName, "cluster-password").WaitAsync(Timeout);
        await carol.LoginAsync(carolName, "cluster-password").WaitAsync(Timeout);
        await carol.SendAsync(new Target { UserId = aliceId }, "typing next").WaitAsync(Timeout);
        await alice.WaitForAsync($"{carolName}: typing next", null, Timeout);
        await carol.SendTypingAsync(new Target { UserId = aliceId }, true).WaitAsync(Timeout);
        await alice.WaitForAsync($"{carolName} is typing…", null, Timeout);
    }

    [Fact]
    public async Task A_hostile_message_body_prints_no_terminal_control_sequence()
    {
        var (alice, aliceName) = await StartAsync("alice");
        var aliceId = IdFrom(await alice.CommandAsync(":info", "(id "));
        await using var mallory = new CimClient(new CimClientOptions { RouteApi = Route }, _http);
        var malloryName = $"mal_{Guid.NewGuid():N}"[..12];
        await mallory.RegisterAsync(malloryName, "cluster-password").WaitAsync(Timeout);
        await mallory.LoginAsync(malloryName, "cluster-password").WaitAsync(Timeout);

        // Sets the window title, rings the bell, clears the screen, hides a line behind a carriage return and a
        // backspace, reverses the rest with a bidi override, and fakes a second message on a new line.
        var from = alice.LineCount;
        await mallory.SendAsync(
            new Target { UserId = aliceId },
            "title\u001b]0;pwned\u0007\u001b[2J then\rgone\b \u009b31m c1 \u202eesrever\u202c\n[00:00:00] admin: fake").WaitAsync(Timeout);
        var line = await alice.WaitForAsync($"{malloryName}: title", from, Timeout);
        var next = await alice.WaitForAsync("admin: fake", from, Timeout);

        var printed = alice.Lines.Skip(from).ToList();
        Assert.DoesNotContain(printed, l => l.Any(c => c < ' ' && c != '\t' || c is >= '\u007f' and <= '\u009f' || c is '\u202e' or '\u202c'));
        Assert.Contains("title␛]0;pwned␇␛[2J then", line);
        Assert.Contains(printed, l => l.StartsWith(TerminalText.ContinuationIndent + "gone␈ \ufffd31m c1 esrever", StringComparison.Ordinal));
        // The body's second line is indented, so it cannot pass for a message line of its own.
        Assert.StartsWith(TerminalText.ContinuationIndent + "[00:00:00] admin: fake", next);
        Assert.DoesNotMatch(MessageLine(), next);
    }

    private async Task<(CimProcess Process, string Name)> StartAsync(string stem)
    {
        var name = $"{stem}_{Guid.NewGuid():N}"[..(stem.Length + 9)];
        var process = CimProcess.Start("--route", Route.ToString(), "--user", name, "--password", "cluster-password", "--register");
        _processes.Add(process);
        await process.WaitForAsync($"logged in as {name}", null, Timeout);
        return (process, name);
    }

    private static long IdFrom(string line) =>
        long.Parse(UserId().Match(line).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^\[\d\d:\d\d:\d\d\] ")]
    private static partial Regex MessageLine();

    [GeneratedRegex(@"\(id (\d+)\)")]
    private static partial Regex UserId();

    [GeneratedRegex(@"\(id (\d+)\)")]
    private static partial Regex GroupId();
}
