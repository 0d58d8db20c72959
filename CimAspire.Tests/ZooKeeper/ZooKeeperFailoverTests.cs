using CimAspire.Tests.Infrastructure;
using CimAspire.ZooKeeper;
using Xunit.Abstractions;
using static CimAspire.Tests.ZooKeeper.ZooKeeperTestSupport;

namespace CimAspire.Tests.ZooKeeper;

/// <summary>The session survives losing its server: a restart of a standalone server, and the loss of an ensemble member.</summary>
public class ZooKeeperFailoverTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Client_survives_a_server_restart_with_its_session_ephemerals_and_watches()
    {
        await using var server = await ZooKeeperProcess.StartAsync();
        await using var client = NewClient(server.ConnectionString);
        await client.ConnectAsync().WaitAsync(TestTimeout);
        var session = client.SessionId;
        await client.CreateAsync("/svc", ReadOnlyMemory<byte>.Empty).WaitAsync(TestTimeout);
        await client.CreateAsync("/svc/me", "up"u8.ToArray(), CreateMode.Ephemeral).WaitAsync(TestTimeout);
        var (onChildren, childrenChanged) = OneEvent();
        var (onData, dataChanged) = OneEvent();
        await client.GetChildrenAsync("/svc", onChildren).WaitAsync(TestTimeout);
        await client.GetDataAsync("/svc/me", onData).WaitAsync(TestTimeout);

        var disconnected = NextState(client, c => c.State == ZooKeeperConnectionState.Disconnected);
        var reconnected = NextState(client, c => c.State == ZooKeeperConnectionState.Connected);
        var expired = NextState(client, c => c.State == ZooKeeperConnectionState.Expired);
        await server.StopAsync();
        await disconnected.WaitAsync(TestTimeout);
        await server.StartAgainAsync();

        var change = await reconnected.WaitAsync(TestTimeout);
        Assert.False(change.IsNewSession);
        Assert.Equal(session, client.SessionId);
        Assert.False(expired.IsCompleted);
        Assert.Equal(session, (await client.ExistsAsync("/svc/me").WaitAsync(TestTimeout))!.EphemeralOwner);

        // The watches set before the restart were re-armed on the new connection.
        await using var other = await ConnectAsync(server.ConnectionString);
        await other.CreateAsync("/svc/other", ReadOnlyMemory<byte>.Empty).WaitAsync(TestTimeout);
        Assert.Equal(new WatchedEvent(WatchEventType.NodeChildrenChanged, "/svc"), await childrenChanged.WaitAsync(TestTimeout));
        await other.SetDataAsync("/svc/me", "busy"u8.ToArray()).WaitAsync(TestTimeout);
        Assert.Equal(new WatchedEvent(WatchEventType.NodeDataChanged, "/svc/me"), await dataChanged.WaitAsync(TestTimeout));
    }

    [Fact]
    public async Task Watch_restored_after_reconnect_fires_for_a_change_made_while_disconnected()
    {
        await using var server = await ZooKeeperProcess.StartAsync();
        await using var proxy = new TcpProxy(server.Port);
        await using var client = NewClient(proxy.ConnectionString);
        await client.ConnectAsync().WaitAsync(TestTimeout);
        await using var other = await ConnectAsync(server.ConnectionString);
        await client.CreateAsync("/w", ReadOnlyMemory<byte>.Empty).WaitAsync(TestTimeout);
        var session = client.SessionId;
        var (onChildren, childrenChanged) = OneEvent();
        await client.GetChildrenAsync("/w", onChildren).WaitAsync(TestTimeout);

        var disconnected = NextState(client, c => c.State == ZooKeeperConnectionState.Disconnected);
        proxy.Cut();
        await disconnected.WaitAsync(TestTimeout);
        await other.CreateAsync("/w/while-away", ReadOnlyMemory<byte>.Empty).WaitAsync(TestTimeout);
        Assert.False(childrenChanged.IsCompleted);

        var reconnected = NextState(client, c => c.State == ZooKeeperConnectionState.Connected);
        proxy.Restore();
        Assert.False((await reconnected.WaitAsync(TestTimeout)).IsNewSession);
        Assert.Equal(session, client.SessionId);

        // setWatches with the last zxid seen makes the server fire the missed NodeChildrenChanged at once.
        Assert.Equal(new WatchedEvent(WatchEventType.NodeChildrenChanged, "/w"), await childrenChanged.WaitAsync(TestTimeout));
    }

    [Fact]
    public async Task Client_cut_off_longer_than_the_session_timeout_declares_expiry_and_starts_a_new_session()
    {
        await using var server = await ZooKeeperProcess.StartAsync();
        await using var proxy = new TcpProxy(server.Port);
        await using var client = NewClient(proxy.ConnectionString, sessionTimeoutSeconds: 2);
        await client.ConnectAsync().WaitAsync(TestTimeout);
        var session = client.SessionId;

        var expired = NextState(client, c => c.State == ZooKeeperConnectionState.Expired);
        proxy.Cut();
        Assert.Equal(session, (await expired.WaitAsync(TestTimeout)).SessionId);

        var renewed = NextState(client, c => c.State == ZooKeeperConnectionState.Connected && c.IsNewSession);
        proxy.Restore();
        Assert.NotEqual(session, (await renewed.WaitAsync(TestTimeout)).SessionId);
    }

    [Fact]
    public async Task Stopping_the_ensemble_member_in_use_leaves_session_ephemerals_and_watches_working()
    {
        await using var ensemble = await ZooKeeperEnsemble.StartAsync();
        await using var client = NewClient(ensemble.ConnectionString, sessionTimeoutSeconds: 8);
        await client.ConnectAsync().WaitAsync(TestTimeout);
        var session = client.SessionId;
        await client.CreateAsync("/ens", ReadOnlyMemory<byte>.Empty).WaitAsync(TestTimeout);
        await client.CreateAsync("/ens/me", ReadOnlyMemory<byte>.Empty, CreateMode.Ephemeral).WaitAsync(TestTimeout);
        var (onChildren, childrenChanged) = OneEvent();
        await client.GetChildrenAsync("/ens", onChildren).WaitAsync(TestTimeout);

        var used = client.ConnectedServer!;
        var member = ensemble.Members.Single(m => m.Port == used.Port);
        var reconnected = NextState(client, c => c.State == ZooKeeperConnectionState.Connected);
        await member.StopAsync();

        var change = await reconnected.WaitAsync(TestTimeout);
        Assert.False(change.IsNewSession);
        Assert.Equal(session, client.SessionId);
        Assert.NotEqual(used.Port, client.ConnectedServer!.Port);

        var survivors = string.Join(',', ensemble.Members.Where(m => m != member).Select(m => m.ConnectionString));
        await using var other = await ConnectAsync(survivors, sessionTimeoutSeconds: 8);
        Assert.Equal(session, (await other.ExistsAsync("/ens/me").WaitAsync(TestTimeout))!.EphemeralOwner);
        await other.CreateAsync("/ens/other", ReadOnlyMemory<byte>.Empty).WaitAsync(TestTimeout);
        Assert.Equal(new WatchedEvent(WatchEventType.NodeChildrenChanged, "/ens"), await childrenChanged.WaitAsync(TestTimeout));
        Assert.Equal(["me", "other"], await client.GetChildrenAsync("/ens").WaitAsync(TestTimeout));
    }

    private ZooKeeperClient NewClient(string connectionString, double sessionTimeoutSeconds = 10)
    {
        return new ZooKeeperClient(
            new ZooKeeperClientOptions
            {
                ConnectionString = connectionString,
                SessionTimeout = TimeSpan.FromSeconds(sessionTimeoutSeconds),
                ReconnectDelay = TimeSpan.FromMilliseconds(200),
            },
            new TestOutputLogger<ZooKeeperClient>(output));
    }
}
