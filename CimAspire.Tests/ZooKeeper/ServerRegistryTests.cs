using CimAspire.ZooKeeper;
using CimAspire.ZooKeeper.Registry;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;
using static CimAspire.Tests.ZooKeeper.ZooKeeperTestSupport;

namespace CimAspire.Tests.ZooKeeper;

/// <summary>The registrar (IM server side) and the directory (route side) against a real ZooKeeper server.</summary>
public class ServerRegistryTests(ZooKeeperServerFixture fixture, ITestOutputHelper output) : IClassFixture<ZooKeeperServerFixture>
{
    private string ConnectionString => fixture.Server.ConnectionString;

    [Fact]
    public async Task Directory_sees_a_registered_server_with_its_data_and_sees_it_leave_on_deregister()
    {
        var root = UniquePath("/cim") + "/servers";
        await using var registrarClient = await ConnectAsync(ConnectionString);
        await using var directoryClient = await ConnectAsync(ConnectionString);
        await using var directory = NewDirectory(directoryClient, root);
        await directory.WaitForInitialLoadAsync().WaitAsync(TestTimeout);
        Assert.Empty(directory.Servers);

        var joined = NextChange(directory, c => c.Joined.Count > 0);
        var registration = Registration("im-1", 7001);
        await using var registrar = NewRegistrar(registrarClient, root);
        await registrar.RegisterAsync(registration).WaitAsync(TestTimeout);
        Assert.True(registrar.IsRegistered);
        Assert.Equal($"{root}/im-1", registrar.NodePath);

        Assert.Equal([registration], (await joined.WaitAsync(TestTimeout)).Joined);
        Assert.Equal([registration], directory.Servers);
        var node = await directoryClient.ExistsAsync($"{root}/im-1").WaitAsync(TestTimeout);
        Assert.Equal(registrarClient.SessionId, node!.EphemeralOwner);

        var left = NextChange(directory, c => c.Left.Count > 0);
        await registrar.DeregisterAsync().WaitAsync(TestTimeout);
        Assert.Equal([registration], (await left.WaitAsync(TestTimeout)).Left);
        Assert.Empty(directory.Servers);
        Assert.Null(await directoryClient.ExistsAsync($"{root}/im-1").WaitAsync(TestTimeout));
    }

    [Fact]
    public async Task Server_leaves_the_directory_when_its_client_closes_without_deregistering()
    {
        var root = UniquePath("/reg");
        var registrarClient = await ConnectAsync(ConnectionString);
        await using var directoryClient = await ConnectAsync(ConnectionString);
        await using var directory = NewDirectory(directoryClient, root);
        var registrar = NewRegistrar(registrarClient, root);
        await registrar.RegisterAsync(Registration("im-crash", 7002)).WaitAsync(TestTimeout);
        await Until(() => Task.FromResult(directory.Servers.Count == 1), "the directory lists the server");

        var left = NextChange(directory, c => c.Left.Count > 0);
        await registrarClient.CloseAsync().WaitAsync(TestTimeout);
        Assert.Equal("im-crash", (await left.WaitAsync(TestTimeout)).Left.Single().Id);
        Assert.Empty(directory.Servers);
        await registrar.DisposeAsync();
    }

    [Fact]
    public async Task After_a_forced_expiry_the_registrar_registers_again_and_the_directory_sees_the_server_again()
    {
        var root = UniquePath("/reg");
        await using var registrarClient = await ConnectAsync(ConnectionString);
        await using var directoryClient = await ConnectAsync(ConnectionString);
        await using var directory = NewDirectory(directoryClient, root);
        await using var registrar = NewRegistrar(registrarClient, root);
        var registration = Registration("im-exp", 7003);
        var restored = 0;
        var restoredOnce = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        registrar.RegistrationRestored += () =>
        {
            Interlocked.Increment(ref restored);
            restoredOnce.TrySetResult();
        };
        await registrar.RegisterAsync(registration).WaitAsync(TestTimeout);
        await Until(() => Task.FromResult(directory.Servers.Count == 1), "the directory lists the server");
        var oldSession = registrarClient.SessionId;
        Assert.Equal(0, Volatile.Read(ref restored));

        var left = NextChange(directory, c => c.Left.Count > 0);
        var back = NextChange(directory, c => c.Joined.Count > 0);
        await ExpireSessionAsync(fixture.Server.Port, oldSession, registrarClient.SessionPassword);

        // The server is told its registration was lost and is back (what makes an IM server claim its routes again).
        await restoredOnce.Task.WaitAsync(TestTimeout);

        Assert.Equal("im-exp", (await left.WaitAsync(TestTimeout)).Left.Single().Id);
        Assert.Equal([registration], (await back.WaitAsync(TestTimeout)).Joined);
        Assert.Equal([registration], directory.Servers);
        Assert.NotEqual(oldSession, registrarClient.SessionId);
        var node = await directoryClient.ExistsAsync($"{root}/im-exp").WaitAsync(TestTimeout);
        Assert.Equal(registrarClient.SessionId, node!.EphemeralOwner);
        await Until(() => Task.FromResult(registrar.IsRegistered), "the registrar knows it is registered in the new session");
        Assert.Equal(1, Volatile.Read(ref restored));
    }

    [Fact]
    public async Task Registrar_replaces_a_stale_node_of_another_session_and_recreates_a_deleted_one()
    {
        var root = UniquePath("/reg");
        await using var other = await ConnectAsync(ConnectionString);
        await other.EnsurePathAsync(root).WaitAsync(TestTimeout);
        await other.CreateAsync($"{root}/im-2", "{}"u8.ToArray(), CreateMode.Ephemeral).WaitAsync(TestTimeout);

        await using var registrarClient = await ConnectAsync(ConnectionString);
        await using var registrar = NewRegistrar(registrarClient, root);
        await registrar.RegisterAsync(Registration("im-2", 7004)).WaitAsync(TestTimeout);
        Assert.Equal(registrarClient.SessionId, (await other.ExistsAsync($"{root}/im-2").WaitAsync(TestTimeout))!.EphemeralOwner);

        // Someone deletes it: the registrar's watch brings it back.
        await other.DeleteAsync($"{root}/im-2").WaitAsync(TestTimeout);
        await Until(
            async () => (await other.ExistsAsync($"{root}/im-2"))?.EphemeralOwner == registrarClient.SessionId,
            "the registrar re-created its node");
    }

    [Fact]
    public async Task Directory_creates_a_missing_root_and_ignores_nodes_with_invalid_data()
    {
        var root = UniquePath("/deep") + "/a/b";
        await using var client = await ConnectAsync(ConnectionString);
        await using var directory = NewDirectory(client, root);
        await directory.WaitForInitialLoadAsync().WaitAsync(TestTimeout);
        Assert.NotNull(await client.ExistsAsync(root).WaitAsync(TestTimeout));

        await client.CreateAsync($"{root}/garbage", "not json"u8.ToArray(), CreateMode.Ephemeral).WaitAsync(TestTimeout);
        await client.CreateAsync($"{root}/mismatch", RegistryJson.Serialize(Registration("other", 1)), CreateMode.Ephemeral).WaitAsync(TestTimeout);
        var joined = NextChange(directory, c => c.Joined.Count > 0);
        var good = Registration("good", 7005);
        await client.CreateAsync($"{root}/good", RegistryJson.Serialize(good), CreateMode.Ephemeral).WaitAsync(TestTimeout);

        Assert.Equal([good], (await joined.WaitAsync(TestTimeout)).Joined);
        Assert.Equal([good], directory.Servers);
    }

    [Fact]
    public async Task Directory_reports_a_data_change_as_left_and_joined()
    {
        var root = UniquePath("/reg");
        await using var registrarClient = await ConnectAsync(ConnectionString);
        await using var directoryClient = await ConnectAsync(ConnectionString);
        await using var directory = NewDirectory(directoryClient, root);
        await using var registrar = NewRegistrar(registrarClient, root);
        var first = Registration("im-3", 7006);
        // Wait for the join itself, not for Servers: the snapshot is updated before Changed is raised, so a handler added
        // on seeing the snapshot could still receive this join.
        var firstJoined = NextChange(directory, c => c.Joined.Contains(first));
        await registrar.RegisterAsync(first).WaitAsync(TestTimeout);
        await firstJoined.WaitAsync(TestTimeout);

        // However the directory reads the change (one re-read or two), the old data leaves and the new joins.
        var second = first with { HttpAddress = "http://127.0.0.1:9999" };
        var left = new List<ServerRegistration>();
        var joined = new List<ServerRegistration>();
        var secondJoined = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        directory.Changed += change =>
        {
            lock (left)
            {
                left.AddRange(change.Left);
                joined.AddRange(change.Joined);
                if (joined.Contains(second))
                {
                    secondJoined.TrySetResult();
                }
            }
        };
        await registrar.RegisterAsync(second).WaitAsync(TestTimeout);
        await secondJoined.Task.WaitAsync(TestTimeout);
        lock (left)
        {
            Assert.Equal([first], left);
            Assert.Equal([second], joined);
        }

        Assert.Equal([second], directory.Servers);
    }

    internal static ServerRegistration Registration(string id, int port)
    {
        return new ServerRegistration(id, "127.0.0.1", port, null, "1.0.0", DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), 42);
    }

    internal static Task<ServerDirectoryChange> NextChange(IServerDirectory directory, Func<ServerDirectoryChange, bool> match)
    {
        var seen = new TaskCompletionSource<ServerDirectoryChange>(TaskCreationOptions.RunContinuationsAsynchronously);
        directory.Changed += change =>
        {
            if (match(change))
            {
                seen.TrySetResult(change);
            }
        };
        return seen.Task;
    }

    private ServerDirectory NewDirectory(ZooKeeperClient client, string root)
    {
        var directory = new ServerDirectory(client, Options.Create(new ServerRegistryOptions { Root = root }), new TestOutputLogger<ServerDirectory>(output));
        directory.Start();
        return directory;
    }

    private ServerRegistrar NewRegistrar(ZooKeeperClient client, string root)
    {
        return new ServerRegistrar(client, Options.Create(new ServerRegistryOptions { Root = root }), new TestOutputLogger<ServerRegistrar>(output));
    }
}
