using CimAspire.ZooKeeper;
using static CimAspire.Tests.ZooKeeper.ZooKeeperTestSupport;

namespace CimAspire.Tests.ZooKeeper;

/// <summary>The client against a real ZooKeeper server: round trips, errors, watches, ephemeral lifetime, chroot.</summary>
public class ZooKeeperClientTests(ZooKeeperServerFixture fixture) : IClassFixture<ZooKeeperServerFixture>
{
    private string ConnectionString => fixture.Server.ConnectionString;

    [Fact]
    public async Task Create_get_set_delete_round_trip()
    {
        await using var client = await ConnectAsync(ConnectionString);
        var path = UniquePath();

        Assert.Equal(path, await client.CreateAsync(path, "hello"u8.ToArray()).WaitAsync(TestTimeout));
        var read = await client.GetDataAsync(path).WaitAsync(TestTimeout);
        Assert.Equal("hello"u8.ToArray(), read.Data);
        Assert.Equal(0, read.Stat.Version);
        Assert.Equal(0, read.Stat.EphemeralOwner);

        var stat = await client.SetDataAsync(path, "world"u8.ToArray(), version: 0).WaitAsync(TestTimeout);
        Assert.Equal(1, stat.Version);
        Assert.Equal("world"u8.ToArray(), (await client.GetDataAsync(path).WaitAsync(TestTimeout)).Data);

        await client.CreateAsync($"{path}/b", ReadOnlyMemory<byte>.Empty).WaitAsync(TestTimeout);
        await client.CreateAsync($"{path}/a", ReadOnlyMemory<byte>.Empty).WaitAsync(TestTimeout);
        Assert.Equal(["a", "b"], await client.GetChildrenAsync(path).WaitAsync(TestTimeout));

        await client.DeleteAsync($"{path}/a").WaitAsync(TestTimeout);
        await client.DeleteAsync($"{path}/b").WaitAsync(TestTimeout);
        await client.DeleteAsync(path, version: 1).WaitAsync(TestTimeout);
        Assert.Null(await client.ExistsAsync(path).WaitAsync(TestTimeout));
    }

    [Fact]
    public async Task Server_errors_surface_as_ZooKeeperException_codes()
    {
        await using var client = await ConnectAsync(ConnectionString);
        var path = UniquePath();
        await client.CreateAsync(path, ReadOnlyMemory<byte>.Empty).WaitAsync(TestTimeout);
        await client.CreateAsync($"{path}/child", ReadOnlyMemory<byte>.Empty).WaitAsync(TestTimeout);

        async Task Expect(ZooKeeperErrorCode code, Func<Task> action)
        {
            var ex = await Assert.ThrowsAsync<ZooKeeperException>(() => action().WaitAsync(TestTimeout));
            Assert.Equal(code, ex.Code);
        }

        await Expect(ZooKeeperErrorCode.NodeExists, () => client.CreateAsync(path, ReadOnlyMemory<byte>.Empty));
        await Expect(ZooKeeperErrorCode.NoNode, () => client.GetDataAsync($"{path}/missing"));
        await Expect(ZooKeeperErrorCode.NoNode, () => client.DeleteAsync($"{path}/missing"));
        await Expect(ZooKeeperErrorCode.NoNode, () => client.CreateAsync($"{path}/missing/x", ReadOnlyMemory<byte>.Empty));
        await Expect(ZooKeeperErrorCode.NoNode, () => client.GetChildrenAsync($"{path}/missing"));
        await Expect(ZooKeeperErrorCode.NoNode, () => client.SetDataAsync($"{path}/missing", ReadOnlyMemory<byte>.Empty));
        await Expect(ZooKeeperErrorCode.BadVersion, () => client.SetDataAsync(path, ReadOnlyMemory<byte>.Empty, version: 7));
        await Expect(ZooKeeperErrorCode.NotEmpty, () => client.DeleteAsync(path));

        var ephemeral = await client.CreateAsync($"{path}/eph", ReadOnlyMemory<byte>.Empty, CreateMode.Ephemeral).WaitAsync(TestTimeout);
        await Expect(ZooKeeperErrorCode.NoChildrenForEphemerals, () => client.CreateAsync($"{ephemeral}/x", ReadOnlyMemory<byte>.Empty));

        // Bad input is refused before it reaches the wire, with a clear message, and the session stays usable.
        await Assert.ThrowsAsync<ArgumentException>(() => client.CreateAsync("relative", ReadOnlyMemory<byte>.Empty));
        await Assert.ThrowsAsync<ArgumentException>(() => client.GetDataAsync("/a//b"));
        await Assert.ThrowsAsync<ArgumentException>(() => client.ExistsAsync("/a/../b"));
        await Assert.ThrowsAsync<ArgumentException>(() => client.SetDataAsync(path, new byte[2 * 1024 * 1024]));
        Assert.NotNull(await client.ExistsAsync(path).WaitAsync(TestTimeout));
    }

    [Fact]
    public async Task Sequential_nodes_get_increasing_suffixes_and_ephemeral_ones_are_owned_by_the_session()
    {
        await using var client = await ConnectAsync(ConnectionString);
        var path = UniquePath();
        await client.CreateAsync(path, ReadOnlyMemory<byte>.Empty).WaitAsync(TestTimeout);

        var first = await client.CreateAsync($"{path}/n-", ReadOnlyMemory<byte>.Empty, CreateMode.PersistentSequential).WaitAsync(TestTimeout);
        var second = await client.CreateAsync($"{path}/n-", ReadOnlyMemory<byte>.Empty, CreateMode.EphemeralSequential).WaitAsync(TestTimeout);
        Assert.Equal($"{path}/n-0000000000", first);
        Assert.Equal($"{path}/n-0000000001", second);

        var stat = await client.ExistsAsync(second).WaitAsync(TestTimeout);
        Assert.Equal(client.SessionId, stat!.EphemeralOwner);
        Assert.Equal(0, (await client.ExistsAsync(first).WaitAsync(TestTimeout))!.EphemeralOwner);
    }

    [Fact]
    public async Task Children_watch_fires_once_on_add_and_again_when_rearmed_on_remove()
    {
        await using var watcherClient = await ConnectAsync(ConnectionString);
        await using var writer = await ConnectAsync(ConnectionString);
        var path = UniquePath();
        await writer.CreateAsync(path, ReadOnlyMemory<byte>.Empty).WaitAsync(TestTimeout);

        var (onAdd, added) = OneEvent();
        Assert.Empty(await watcherClient.GetChildrenAsync(path, onAdd).WaitAsync(TestTimeout));
        await writer.CreateAsync($"{path}/c1", ReadOnlyMemory<byte>.Empty).WaitAsync(TestTimeout);
        Assert.Equal(new WatchedEvent(WatchEventType.NodeChildrenChanged, path), await added.WaitAsync(TestTimeout));

        var (onRemove, removed) = OneEvent();
        Assert.Equal(["c1"], await watcherClient.GetChildrenAsync(path, onRemove).WaitAsync(TestTimeout));
        await writer.DeleteAsync($"{path}/c1").WaitAsync(TestTimeout);
        Assert.Equal(new WatchedEvent(WatchEventType.NodeChildrenChanged, path), await removed.WaitAsync(TestTimeout));
    }

    [Fact]
    public async Task Data_and_exists_watches_fire_on_change_creation_and_deletion()
    {
        await using var client = await ConnectAsync(ConnectionString);
        await using var writer = await ConnectAsync(ConnectionString);
        var path = UniquePath();

        var (onCreate, created) = OneEvent();
        Assert.Null(await client.ExistsAsync(path, onCreate).WaitAsync(TestTimeout));
        await writer.CreateAsync(path, "1"u8.ToArray()).WaitAsync(TestTimeout);
        Assert.Equal(new WatchedEvent(WatchEventType.NodeCreated, path), await created.WaitAsync(TestTimeout));

        var (onChange, changed) = OneEvent();
        await client.GetDataAsync(path, onChange).WaitAsync(TestTimeout);
        await writer.SetDataAsync(path, "2"u8.ToArray()).WaitAsync(TestTimeout);
        Assert.Equal(new WatchedEvent(WatchEventType.NodeDataChanged, path), await changed.WaitAsync(TestTimeout));

        var (onDelete, deleted) = OneEvent();
        await client.ExistsAsync(path, onDelete).WaitAsync(TestTimeout);
        await writer.DeleteAsync(path).WaitAsync(TestTimeout);
        Assert.Equal(new WatchedEvent(WatchEventType.NodeDeleted, path), await deleted.WaitAsync(TestTimeout));
    }

    [Fact]
    public async Task Ephemeral_node_disappears_when_its_client_closes()
    {
        await using var observer = await ConnectAsync(ConnectionString);
        var owner = await ConnectAsync(ConnectionString);
        var path = UniquePath();
        await owner.CreateAsync(path, ReadOnlyMemory<byte>.Empty, CreateMode.Ephemeral).WaitAsync(TestTimeout);

        var (onDelete, deleted) = OneEvent();
        Assert.NotNull(await observer.ExistsAsync(path, onDelete).WaitAsync(TestTimeout));
        var closed = NextState(owner, c => c.State == ZooKeeperConnectionState.Closed);
        await owner.CloseAsync().WaitAsync(TestTimeout);

        Assert.Equal(WatchEventType.NodeDeleted, (await deleted.WaitAsync(TestTimeout)).Type);
        Assert.Null(await observer.ExistsAsync(path).WaitAsync(TestTimeout));
        await closed.WaitAsync(TestTimeout);
        Assert.Equal(ZooKeeperConnectionState.Closed, owner.State);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => owner.ExistsAsync("/"));
    }

    [Fact]
    public async Task Forced_session_expiry_deletes_ephemerals_reports_expired_and_opens_a_new_session()
    {
        await using var observer = await ConnectAsync(ConnectionString);
        await using var owner = await ConnectAsync(ConnectionString);
        var path = UniquePath();
        await owner.CreateAsync(path, ReadOnlyMemory<byte>.Empty, CreateMode.Ephemeral).WaitAsync(TestTimeout);
        var oldSession = owner.SessionId;

        var (onDelete, deleted) = OneEvent();
        await observer.ExistsAsync(path, onDelete).WaitAsync(TestTimeout);
        var expired = NextState(owner, c => c.State == ZooKeeperConnectionState.Expired);
        var renewed = NextState(owner, c => c.State == ZooKeeperConnectionState.Connected && c.IsNewSession);

        await ExpireSessionAsync(fixture.Server.Port, oldSession, owner.SessionPassword);

        Assert.Equal(WatchEventType.NodeDeleted, (await deleted.WaitAsync(TestTimeout)).Type);
        Assert.Equal(oldSession, (await expired.WaitAsync(TestTimeout)).SessionId);
        var change = await renewed.WaitAsync(TestTimeout);
        Assert.NotEqual(oldSession, change.SessionId);
        Assert.Equal(change.SessionId, owner.SessionId);

        // The new session works and owns what it creates.
        Assert.Null(await owner.ExistsAsync(path).WaitAsync(TestTimeout));
        await owner.CreateAsync(path, ReadOnlyMemory<byte>.Empty, CreateMode.Ephemeral).WaitAsync(TestTimeout);
        Assert.Equal(owner.SessionId, (await observer.ExistsAsync(path).WaitAsync(TestTimeout))!.EphemeralOwner);
    }

    [Fact]
    public async Task Chroot_paths_are_relative_in_requests_results_and_events()
    {
        var root = UniquePath("/chroot");
        await using var plain = await ConnectAsync(ConnectionString);
        await plain.EnsurePathAsync(root).WaitAsync(TestTimeout);

        await using var rooted = await ConnectAsync(ConnectionString + root);
        Assert.Equal(root, rooted.Chroot);
        var (onChildren, childrenChanged) = OneEvent();
        Assert.Empty(await rooted.GetChildrenAsync("/", onChildren).WaitAsync(TestTimeout));

        Assert.Equal("/app", await rooted.CreateAsync("/app", "x"u8.ToArray()).WaitAsync(TestTimeout));
        Assert.Equal(new WatchedEvent(WatchEventType.NodeChildrenChanged, "/"), await childrenChanged.WaitAsync(TestTimeout));
        Assert.Equal("/app/s-0000000000", await rooted.CreateAsync("/app/s-", ReadOnlyMemory<byte>.Empty, CreateMode.EphemeralSequential).WaitAsync(TestTimeout));
        Assert.Equal("x"u8.ToArray(), (await plain.GetDataAsync($"{root}/app").WaitAsync(TestTimeout)).Data);

        var (onData, dataChanged) = OneEvent();
        await rooted.GetDataAsync("/app", onData).WaitAsync(TestTimeout);
        await plain.SetDataAsync($"{root}/app", "y"u8.ToArray()).WaitAsync(TestTimeout);
        Assert.Equal(new WatchedEvent(WatchEventType.NodeDataChanged, "/app"), await dataChanged.WaitAsync(TestTimeout));
    }

    [Fact]
    public async Task Many_pipelined_requests_complete_in_order()
    {
        await using var client = await ConnectAsync(ConnectionString);
        var path = UniquePath();
        await client.CreateAsync(path, ReadOnlyMemory<byte>.Empty).WaitAsync(TestTimeout);
        var creates = Enumerable.Range(0, 200).Select(i => client.CreateAsync($"{path}/n{i:D3}", BitConverter.GetBytes(i))).ToArray();
        await Task.WhenAll(creates).WaitAsync(TestTimeout);
        var reads = Enumerable.Range(0, 200).Select(i => client.GetDataAsync($"{path}/n{i:D3}")).ToArray();
        var results = await Task.WhenAll(reads).WaitAsync(TestTimeout);
        Assert.Equal(Enumerable.Range(0, 200), results.Select(r => BitConverter.ToInt32(r.Data)));
        Assert.Equal(200, (await client.GetChildrenAsync(path).WaitAsync(TestTimeout)).Count);
    }
}
