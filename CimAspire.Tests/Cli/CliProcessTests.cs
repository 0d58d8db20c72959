using System.Text.RegularExpressions;
using CimAspire.Client;
using CimAspire.Protocol;
using CimAspire.Tests.Client.Fakes;

namespace CimAspire.Tests.Cli;

/// <summary>Two <c>cim</c> processes against the fake route API and IM servers, driven through standard input.</summary>
public sealed partial class CliProcessTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private readonly List<CimProcess> _processes = [];
    private FakeCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await FakeCluster.StartAsync(servers: 2);

    public async Task DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }

        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task Two_console_clients_chat_in_the_room_and_directly()
    {
        var alice = await StartAsync("alice");
        var bob = await StartAsync("bob");
        var aliceId = _cluster.FindAccount("alice")!.Value.Id;

        var from = bob.LineCount;
        await alice.SendAsync("hello :smile:");
        var line = await bob.WaitForAsync("alice: hello", from);
        Assert.Matches(MessageLine(), line);
        Assert.EndsWith("alice: hello 😄", line);
        await alice.WaitForAsync(l => MessageLine().IsMatch(l) && l.EndsWith("alice: hello 😄", StringComparison.Ordinal));

        from = alice.LineCount;
        await bob.SendAsync("@alice just for you");
        Assert.EndsWith("(@bob) bob: just for you", await alice.WaitForAsync("just for you", from));

        await bob.SendAsync($"{aliceId};;cim style");
        Assert.EndsWith("(@bob) bob: cim style", await alice.WaitForAsync("cim style", from));

        await alice.CommandAsync(":to bob", "talking in @bob");
        from = bob.LineCount;
        await alice.SendAsync("now private");
        Assert.EndsWith("(@alice) alice: now private", await bob.WaitForAsync("now private", from));

        // No colour codes when stdout is not a terminal.
        Assert.DoesNotContain(alice.Lines, l => l.Contains('\u001b'));
    }

    [Fact]
    public async Task Each_command_prints_what_it_should()
    {
        var alice = await StartAsync("alice");
        var bob = await StartAsync("bob");
        var aliceId = _cluster.FindAccount("alice")!.Value.Id;

        await alice.CommandAsync(":info", $"user alice (id {aliceId}), state Online, server im-");
        await alice.CommandAsync(":all", ":delay <msg> <seconds>");
        var from = alice.LineCount;
        await alice.SendAsync(":nonsense");
        await alice.WaitForAsync("Unknown command ':nonsense'", from);
        await alice.WaitForAsync(":olu", from);

        from = alice.LineCount;
        await alice.SendAsync(":olu");
        await alice.WaitForAsync("2 user(s) online.", from);
        Assert.Contains(alice.Lines.Skip(from), l => l.Contains("bob (id ", StringComparison.Ordinal));

        await alice.CommandAsync(":pu bo", "*bo*b (id ");
        await alice.CommandAsync(":pu zz", "No user name starts with 'zz'.");
        await alice.CommandAsync(":emoji 1", ":smile:");
        await alice.CommandAsync(":emoji 99", "Usage: :emoji <page>");

        await bob.SendAsync("the weather is fine");
        await alice.WaitForAsync("bob: the weather is fine");
        await alice.CommandAsync(":q weather", "bob: the *weather* is fine");
        await alice.CommandAsync(":q nothing-like-this", "No message contains");

        await alice.CommandAsync(":history 5", "bob: the weather is fine");
        await alice.CommandAsync(":convs", "#everyone");

        await alice.CommandAsync(":group create team", "created group #team (id 1)");
        await bob.CommandAsync(":group join 1", "joined #team");
        from = alice.LineCount;
        await alice.SendAsync(":members 1");
        await alice.WaitForAsync("2 member(s) in #team.", from);
        Assert.Contains(alice.Lines.Skip(from), l => l.Contains("bob (id ", StringComparison.Ordinal));

        await alice.CommandAsync(":to #team", "talking in #team");
        from = bob.LineCount;
        await alice.SendAsync("team talk");
        Assert.EndsWith("(#team) alice: team talk", await bob.WaitForAsync("team talk", from));

        await bob.CommandAsync(":delay later-on 1", "will send in 1 s");
        Assert.EndsWith("bob: later-on", await alice.WaitForAsync("later-on"));

        await bob.CommandAsync(":group leave 1", "left #team");
        await bob.CommandAsync(":to nobody", "There is no user 'nobody'.");
        await bob.CommandAsync("@nobody hi", "There is no user 'nobody'.");
    }

    [Fact]
    public async Task Typing_of_others_is_shown()
    {
        var alice = await StartAsync("alice");
        var aliceId = _cluster.FindAccount("alice")!.Value.Id;
        await using var carol = new CimClient(new CimClientOptions { RouteApi = _cluster.RouteUri });
        await carol.RegisterAsync("carol", "pw").WaitAsync(Timeout);
        await carol.LoginAsync("carol", "pw").WaitAsync(Timeout);
        await carol.SendAsync(new Target { UserId = aliceId }, "hi alice").WaitAsync(Timeout);
        await alice.WaitForAsync("carol: hi alice");

        await carol.SendTypingAsync(new Target { UserId = aliceId }, true).WaitAsync(Timeout);

        await alice.WaitForAsync("carol is typing…");
    }

    [Fact]
    public async Task Losing_the_server_prints_status_lines_and_the_chat_goes_on()
    {
        var alice = await StartAsync("alice");
        var bob = await StartAsync("bob");
        var aliceServer = _cluster.ServerOf(_cluster.FindAccount("alice")!.Value.Id)!;

        var from = alice.LineCount;
        aliceServer.Kill();
        await alice.WaitForAsync("-- connection lost; reconnecting…", from);
        await alice.WaitForAsync("-- reconnected to im-", from);

        from = alice.LineCount;
        await bob.SendAsync("still there?");
        await alice.WaitForAsync("bob: still there?", from);
    }

    [Fact]
    public async Task Quit_logs_out_and_exits()
    {
        var alice = await StartAsync("alice");

        await alice.SendAsync(":q!");

        Assert.Equal(0, await alice.WaitForExitAsync());
        Assert.Contains("-- bye", alice.Lines);
        Assert.Contains(_cluster.Route!.Requests, r => r is { Method: "POST", Path: "/api/sessions/logout" });
    }

    [Fact]
    public async Task Bad_arguments_and_a_wrong_password_are_clear_errors()
    {
        var bad = Track(CimProcess.Start("--route"));
        Assert.Equal(2, await bad.WaitForExitAsync());
        Assert.Contains("cim: --route needs a value.", bad.Lines);

        var wrong = Track(CimProcess.Start("--route", _cluster.RouteUri.ToString(), "--user", "nobody", "--password", "x", "--no-color"));
        Assert.Equal(1, await wrong.WaitForExitAsync());
        Assert.Contains(wrong.Lines, l => l.Contains("401", StringComparison.Ordinal) && l.Contains("Login failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task User_and_password_can_be_typed_on_standard_input()
    {
        _cluster.Register("dora", "pw");
        var dora = Track(CimProcess.Start("--route", _cluster.RouteUri.ToString()));
        await dora.SendAsync("dora");
        await dora.SendAsync("pw");
        await dora.WaitForAsync("logged in as dora");
    }

    private async Task<CimProcess> StartAsync(string user)
    {
        var process = Track(CimProcess.Start("--route", _cluster.RouteUri.ToString(), "--user", user, "--password", "pw", "--register"));
        await process.WaitForAsync($"logged in as {user}");
        return process;
    }

    private CimProcess Track(CimProcess process)
    {
        _processes.Add(process);
        return process;
    }

    [GeneratedRegex(@"^\[\d\d:\d\d:\d\d\] ")]
    private static partial Regex MessageLine();
}
