using System.Diagnostics;
using System.Net.Sockets;
using CimAspire.Client;
using CimAspire.Protocol;
using CimAspire.Tests.Infrastructure;
using CimAspire.Tests.Route;

namespace CimAspire.Tests.Client;

/// <summary>
/// The SDK against the real route API (in-process, with a test server directory instead of ZooKeeper) and two real
/// IM server processes on one real redis-server: the protocol as the servers really speak it, without the AppHost.
/// </summary>
public sealed class RealServersTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly List<CimClient> _clients = [];
    private readonly List<ImServerProcess> _servers = [];
    private readonly TestServerDirectory _directory = new();
    private RedisProcess _redis = null!;
    private RouteApiFactory _route = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisProcess.StartAsync();
        _servers.Add(await ImServerProcess.StartAsync("im-real-a", _redis.ConnectionString));
        _servers.Add(await ImServerProcess.StartAsync("im-real-b", _redis.ConnectionString));
        _directory.Set([.. _servers.Select(s => TestServerDirectory.Registration(s.Id, s.Port))]);
        _route = new RouteApiFactory(_redis, _directory, new Dictionary<string, string?>());
        _http = _route.CreateClient();
    }

    public async Task DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync().AsTask().WaitAsync(Timeout);
        }

        _http.Dispose();
        await _route.DisposeAsync();
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task Direct_and_room_messages_flow_between_two_users_once_each()
    {
        var (alice, aliceProbe) = await OnlineAsync("alice");
        var (bob, bobProbe) = await OnlineAsync("bob");

        var direct = await alice.SendAsync(new Target { UserId = bob.UserId }, "hello bob").WaitAsync(Timeout);
        await bobProbe.WaitAsync(() => bobProbe.Messages.Any(m => m.ServerMsgId == direct.ServerMsgId), Timeout);
        var room = await bob.SendAsync(new Target { GroupId = ConversationIds.EveryoneGroupId }, "hello room").WaitAsync(Timeout);
        await aliceProbe.WaitAsync(() => aliceProbe.Messages.Any(m => m.ServerMsgId == room.ServerMsgId), Timeout);

        Assert.Equal(ConversationIds.ForUsers(alice.UserId, bob.UserId), direct.ConversationId);
        Assert.Equal(["hello bob"], bobProbe.Messages.Where(m => m.ConversationId == direct.ConversationId).Select(m => m.Body.ToStringUtf8()));
        Assert.DoesNotContain(bobProbe.Messages, m => m.ServerMsgId == room.ServerMsgId);
        Assert.Equal(direct.Seq, bob.LastSeq(direct.ConversationId));
    }

    [Fact]
    public async Task A_resend_with_the_same_id_is_a_duplicate_and_messages_sent_while_offline_are_synced()
    {
        var (alice, _) = await OnlineAsync("alice");
        var bob = NewClient();
        var bobAccount = await bob.RegisterAsync(Name("bob"), "real-password").WaitAsync(Timeout);
        var to = new Target { UserId = bobAccount.UserId };

        var first = await alice.SendAsync(to, "one", "same-id").WaitAsync(Timeout);
        var again = await alice.SendAsync(to, "one", "same-id").WaitAsync(Timeout);
        await alice.SendAsync(to, "two").WaitAsync(Timeout);
        Assert.True(again.Duplicate);
        Assert.Equal(first.ServerMsgId, again.ServerMsgId);

        var bobProbe = new ClientProbe(bob);
        await bob.LoginAsync(bobAccount.UserName, "real-password").WaitAsync(Timeout);
        Assert.Equal(["one", "two"], bobProbe.Texts);
    }

    [Fact]
    public async Task When_its_server_process_dies_the_client_moves_to_the_other_one_and_misses_nothing()
    {
        var (alice, _) = await OnlineAsync("alice");
        var (bob, bobProbe) = await OnlineAsync("bob");
        var to = new Target { UserId = bob.UserId };
        var victim = _servers.Single(s => s.Id == bob.Server!.ServerId);

        victim.Kill();
        await bobProbe.WaitForStateAsync(ConnectionState.Reconnecting, Timeout);
        var during = await alice.SendAsync(to, "while away").WaitAsync(TimeSpan.FromSeconds(60));
        await bobProbe.WaitAsync(() => bobProbe.States.Count(s => s == ConnectionState.Online) == 2, TimeSpan.FromSeconds(60));
        var after = await alice.SendAsync(to, "after").WaitAsync(TimeSpan.FromSeconds(60));
        await bobProbe.WaitAsync(() => bobProbe.Messages.Any(m => m.ServerMsgId == after.ServerMsgId), Timeout);

        Assert.NotEqual(victim.Id, bob.Server!.ServerId);
        Assert.Equal(["while away", "after"], bobProbe.Texts);
        Assert.Equal(during.Seq + 1, after.Seq);
    }

    [Fact]
    public async Task The_sdk_raises_presence_changes_when_someone_comes_online_and_logs_out()
    {
        var (alice, aliceProbe) = await OnlineAsync("alice");
        var (bob, bobProbe) = await OnlineAsync("bob");

        await aliceProbe.WaitAsync(() => aliceProbe.Presence.Any(p => p.UserId == bob.UserId && p.Online), Timeout);
        Assert.Equal(bob.UserName, aliceProbe.Presence.Single(p => p.UserId == bob.UserId).UserName);

        await bob.LogoutAsync().WaitAsync(Timeout);
        await aliceProbe.WaitAsync(() => aliceProbe.Presence.Any(p => p.UserId == bob.UserId && !p.Online), Timeout);
        Assert.Equal([true, false], aliceProbe.Presence.Where(p => p.UserId == bob.UserId).Select(p => p.Online));
        Assert.DoesNotContain(bobProbe.Presence, p => p.UserId == bob.UserId);
        Assert.DoesNotContain(aliceProbe.Presence, p => p.UserId == alice.UserId);
    }

    [Fact]
    public async Task Groups_history_and_conversations_work_through_the_route_api()
    {
        var (alice, _) = await OnlineAsync("alice");
        var (bob, bobProbe) = await OnlineAsync("bob");

        var group = await alice.CreateGroupAsync("team").WaitAsync(Timeout);
        await bob.JoinGroupAsync(group.GroupId).WaitAsync(Timeout);
        Assert.Contains(await bob.GetMyGroupsAsync().WaitAsync(Timeout), g => g.GroupId == group.GroupId);
        Assert.Equal(
            new[] { alice.UserName, bob.UserName }.Order(),
            (await alice.GetGroupMembersAsync(group.GroupId).WaitAsync(Timeout)).Select(m => m.UserName).Order());

        SendResult last = null!;
        for (var i = 1; i <= 5; i++)
        {
            last = await alice.SendAsync(new Target { GroupId = group.GroupId }, $"t{i}").WaitAsync(Timeout);
        }

        await bobProbe.WaitAsync(() => bobProbe.Messages.Any(m => m.ServerMsgId == last.ServerMsgId), Timeout);
        Assert.Equal(["t1", "t2", "t3", "t4", "t5"], bobProbe.Texts);

        var latest = await bob.GetHistoryAsync(last.ConversationId, limit: 2).WaitAsync(Timeout);
        Assert.Equal(["t4", "t5"], latest.Messages.Select(m => m.Text));
        Assert.True(latest.HasMore);
        var older = await bob.GetHistoryAsync(last.ConversationId, latest.Messages[0].Seq, 10).WaitAsync(Timeout);
        Assert.Equal(["t1", "t2", "t3"], older.Messages.Select(m => m.Text));
        Assert.Contains(await bob.GetConversationsAsync().WaitAsync(Timeout), c => c.ConversationId == last.ConversationId && c.LastSeq == last.Seq);

        await bob.LeaveGroupAsync(group.GroupId).WaitAsync(Timeout);
        Assert.DoesNotContain(await bob.GetMyGroupsAsync().WaitAsync(Timeout), g => g.GroupId == group.GroupId);
        Assert.Equal(bob.UserId, (await alice.FindUserAsync(bob.UserName!).WaitAsync(Timeout))!.UserId);
        Assert.Null(await alice.FindUserAsync("nobody-here").WaitAsync(Timeout));
    }

    private CimClient NewClient()
    {
        var client = new CimClient(new CimClientOptions { RouteApi = _http.BaseAddress!, ClientName = "cim-real-test" }, _http);
        _clients.Add(client);
        return client;
    }

    private async Task<(CimClient Client, ClientProbe Probe)> OnlineAsync(string stem)
    {
        var client = NewClient();
        var probe = new ClientProbe(client);
        var name = Name(stem);
        await client.RegisterAsync(name, "real-password").WaitAsync(Timeout);
        await client.LoginAsync(name, "real-password").WaitAsync(Timeout);
        return (client, probe);
    }

    private static string Name(string stem) => $"{stem}_{Guid.NewGuid():N}"[..(stem.Length + 9)];

    /// <summary>A CimAspire.ImServer process on a free port, without a registry.</summary>
    private sealed class ImServerProcess : IAsyncDisposable
    {
        private readonly Process _process;

        private ImServerProcess(string id, int port, Process process)
        {
            Id = id;
            Port = port;
            _process = process;
        }

        public string Id { get; }

        public int Port { get; }

        public static async Task<ImServerProcess> StartAsync(string id, string redis)
        {
            var port = TestPorts.GetFreePort();
            var info = new ProcessStartInfo("dotnet")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            info.ArgumentList.Add(ServerAssembly());
            info.ArgumentList.Add($"--ConnectionStrings:redis={redis}");
            info.ArgumentList.Add($"--Cim:TokenKey={RouteApiFactory.TokenKey}");
            info.ArgumentList.Add($"--Cim:ImServer:Id={id}");
            info.ArgumentList.Add($"--Cim:ImServer:Port={port}");
            info.ArgumentList.Add("--Cim:ImServer:BindAddress=127.0.0.1");
            info.ArgumentList.Add($"--urls=http://127.0.0.1:{TestPorts.GetFreePort()}");
            var process = Process.Start(info)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var server = new ImServerProcess(id, port, process);
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (true)
            {
                try
                {
                    using var probe = new TcpClient();
                    await probe.ConnectAsync("127.0.0.1", port).WaitAsync(TimeSpan.FromSeconds(2));
                    return server;
                }
                catch (Exception e) when (e is SocketException or TimeoutException && DateTime.UtcNow < deadline && !process.HasExited)
                {
                    await Task.Delay(200);
                }
            }
        }

        public void Kill()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        public async ValueTask DisposeAsync()
        {
            Kill();
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            _process.Dispose();
        }

        // The server is built next to the tests (a build-order-only reference), in the same configuration.
        private static string ServerAssembly()
        {
            var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var framework = testOutput.Name;
            var configuration = testOutput.Parent!.Name;
            var root = testOutput.Parent!.Parent!.Parent!.Parent!.FullName;
            var path = Path.Combine(root, "CimAspire.ImServer", "bin", configuration, framework, "CimAspire.ImServer.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException("Build CimAspire.ImServer first.", path);
        }
    }
}
