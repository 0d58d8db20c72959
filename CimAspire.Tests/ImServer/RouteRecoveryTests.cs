using CimAspire.Delivery;
using CimAspire.Delivery.Routes;
using CimAspire.Protocol;
using CimAspire.Tests.Infrastructure;
using CimAspire.Tests.ZooKeeper;
using CimAspire.ZooKeeper;
using CimAspire.ZooKeeper.Registry;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace CimAspire.Tests.ImServer;

/// <summary>A Redis and a ZooKeeper for tests that break an IM server's hold on them (each test starts its own servers).</summary>
public sealed class RecoveryFixture : IAsyncLifetime
{
    public RedisProcess Redis { get; private set; } = null!;

    public ZooKeeperProcess ZooKeeper { get; private set; } = null!;

    public ConnectionMultiplexer Connection { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Redis = await RedisProcess.StartAsync();
        ZooKeeper = await ZooKeeperProcess.StartAsync();
        // Admin: the tests kill connections (CLIENT KILL).
        Connection = await ConnectionMultiplexer.ConnectAsync(Redis.ConnectionString + ",allowAdmin=true").WaitAsync(TimeSpan.FromSeconds(20));
    }

    public async Task DisposeAsync()
    {
        await Connection.DisposeAsync();
        await ZooKeeper.DisposeAsync();
        await Redis.DisposeAsync();
    }
}

/// <summary>
/// The two ways a server's users could stop getting pushes without noticing (docs/delivery.md, "Lost routes and lost
/// pushes"): its registry session expired and the route API removed its routes, or its Redis subscription was down
/// while a push was published. In both the client must get the message without reconnecting.
/// </summary>
public sealed class RouteRecoveryTests(RecoveryFixture fixture) : IClassFixture<RecoveryFixture>
{
    private static readonly TimeSpan RecoveryTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AfterARegistrySessionExpiryTheServerClaimsItsUsersAgainWithoutStealingOneWhoLoggedInElsewhere()
    {
        await using var zooKeeperPath = new TcpProxy(fixture.ZooKeeper.Port);
        await using var a = await ImServerInstance.StartAsync(fixture.Redis.ConnectionString, new Dictionary<string, string?>
        {
            ["ConnectionStrings:zookeeper"] = zooKeeperPath.ConnectionString,
            ["Cim:Registry:Root"] = $"/cim-test-{Guid.NewGuid():N}/servers",
            ["Cim:ZooKeeper:SessionTimeout"] = "00:00:04",
            ["Cim:ZooKeeper:ReconnectDelay"] = "00:00:00.200",
            // Far away: what brings the routes back here is the restored registration, not the periodic check.
            ["Cim:ImServer:RouteAuditInterval"] = "00:10:00",
        });
        await using var b = await ImServerInstance.StartAsync(fixture.Redis.ConnectionString);
        long alice = await Tokens.NewUserAsync(fixture.Connection), bob = await Tokens.NewUserAsync(fixture.Connection);
        var carol = await Tokens.NewUserAsync(fixture.Connection);
        await using var bobOnA = await TestClient.LoginAsync(a, bob);
        await using var carolOnA = await TestClient.LoginAsync(a, carol);
        await using var aliceOnB = await TestClient.LoginAsync(b, alice);
        var registrar = a.Services.GetRequiredService<ServerRegistrar>();
        await ZooKeeperTestSupport.Until(() => Task.FromResult(registrar.IsRegistered), "server A is registered");
        var zooKeeper = a.Services.GetRequiredService<ZooKeeperClient>();
        var routes = a.Services.GetRequiredService<RouteStore>();

        // A is cut off (as if frozen) and its session expires; the route API sees it leave and removes its routes.
        zooKeeperPath.Cut();
        await ZooKeeperTestSupport.ExpireSessionAsync(fixture.ZooKeeper.Port, zooKeeper.SessionId, zooKeeper.SessionPassword);
        var departure = await routes.MarkServerOfflineAsync(a.Id).WaitAsync(TestClient.Timeout);
        Assert.Contains(bob, departure.WentOffline);

        // Meanwhile a message to Bob is stored without a push, and Carol logs in on B.
        var meanwhile = (await aliceOnB.SendMessageAsync(new Target { UserId = bob }, "meanwhile", "sent while A was gone")).SendAck;
        Assert.Equal(0, meanwhile.OnlineRecipients);
        await using var carolOnB = await TestClient.LoginAsync(b, carol);

        zooKeeperPath.Restore();

        // Bob, still connected to A, is told to sync and finds the message stored meanwhile...
        var hint = await bobOnA.WaitForAsync(e => e.BodyCase == Envelope.BodyOneofCase.SyncHint, RecoveryTimeout);
        Assert.Equal(SyncHint.Types.Reason.RouteRestored, hint.SyncHint.Reason);
        var page = await bobOnA.RequestAsync(new Envelope { Sync = new SyncRequest { ConversationId = meanwhile.ConversationId } });
        Assert.Equal(["meanwhile"], page.SyncResponse.Messages.Select(m => m.ClientMsgId));
        Assert.Equal([a.Id], (await routes.GetRouteAsync(bob).WaitAsync(TestClient.Timeout)).Select(r => r.ServerId));
        Assert.NotNull(await routes.GetOnlineSinceAsync(bob).WaitAsync(TestClient.Timeout));

        // ...and what is sent now is pushed to him.
        var after = (await aliceOnB.SendMessageAsync(new Target { UserId = bob }, "after", "sent after A was back")).SendAck;
        Assert.Equal(1, after.OnlineRecipients);
        Assert.Equal("after", (await bobOnA.WaitForDeliverAsync(m => m.ClientMsgId == "after")).ClientMsgId);

        // Carol stays on B: A kicks its older connection instead of taking her route back.
        var kick = await carolOnA.WaitForAsync(e => e.BodyCase == Envelope.BodyOneofCase.Kick, RecoveryTimeout);
        Assert.Equal(Kick.Types.Reason.Replaced, kick.Kick.Reason);
        Assert.Equal([b.Id], (await routes.GetRouteAsync(carol).WaitAsync(TestClient.Timeout)).Select(r => r.ServerId));
        await aliceOnB.SendMessageAsync(new Target { UserId = carol }, "to-carol", "hello").WaitAsync(TestClient.Timeout);
        Assert.Equal("to-carol", (await carolOnB.WaitForDeliverAsync(m => m.ClientMsgId == "to-carol")).ClientMsgId);
    }

    [Fact]
    public async Task RoutesRemovedWhileTheServerStaysRegisteredAreClaimedAgainByThePeriodicCheck()
    {
        // No registry here: nothing tells the server its routes went (like a departure that lands after the
        // re-registration, or Redis losing them); the periodic check finds it.
        await using var a = await ImServerInstance.StartAsync(fixture.Redis.ConnectionString, new Dictionary<string, string?>
        {
            ["Cim:ImServer:RouteAuditInterval"] = "00:00:00.200",
        });
        await using var b = await ImServerInstance.StartAsync(fixture.Redis.ConnectionString);
        long alice = await Tokens.NewUserAsync(fixture.Connection), bob = await Tokens.NewUserAsync(fixture.Connection);
        await using var bobOnA = await TestClient.LoginAsync(a, bob);
        await using var aliceOnB = await TestClient.LoginAsync(b, alice);
        var routes = a.Services.GetRequiredService<RouteStore>();

        var departure = await routes.MarkServerOfflineAsync(a.Id).WaitAsync(TestClient.Timeout);
        Assert.Equal([bob], departure.WentOffline);

        var hint = await bobOnA.WaitForAsync(e => e.BodyCase == Envelope.BodyOneofCase.SyncHint, RecoveryTimeout);
        Assert.Equal(SyncHint.Types.Reason.RouteRestored, hint.SyncHint.Reason);
        Assert.Equal([a.Id], (await routes.GetRouteAsync(bob).WaitAsync(TestClient.Timeout)).Select(r => r.ServerId));
        await aliceOnB.SendMessageAsync(new Target { UserId = bob }, "after", "pushed again").WaitAsync(TestClient.Timeout);
        Assert.Equal("after", (await bobOnA.WaitForDeliverAsync(m => m.ClientMsgId == "after")).ClientMsgId);

        // Bob's route now carries the reclaim's epoch: his logout releases it and takes him offline.
        await bobOnA.DisposeAsync();
        await ZooKeeperTestSupport.Until(
            async () => (await routes.GetRouteAsync(bob)).Count == 0 && await routes.GetOnlineSinceAsync(bob) is null,
            "Bob's route is released on logout");
    }

    [Fact]
    public async Task APushPublishedWhileTheSubscriptionIsDownReachesTheClientOnceItIsBack()
    {
        // A reaches Redis through a proxy that can refuse new connections: its killed subscription stays down until allowed.
        await using var redisPath = new TcpProxy(fixture.Redis.Port);
        await using var a = await ImServerInstance.StartAsync(redisPath.ConnectionString);
        await using var b = await ImServerInstance.StartAsync(fixture.Redis.ConnectionString);
        long alice = await Tokens.NewUserAsync(fixture.Connection), bob = await Tokens.NewUserAsync(fixture.Connection);
        await using var bobOnA = await TestClient.LoginAsync(a, bob);
        await using var aliceOnB = await TestClient.LoginAsync(b, alice);
        await aliceOnB.SendMessageAsync(new Target { UserId = bob }, "before", "pushed as usual").WaitAsync(TestClient.Timeout);
        await bobOnA.WaitForDeliverAsync(m => m.ClientMsgId == "before");

        redisPath.RefuseNew();
        var db = fixture.Connection.GetDatabase();
        await db.ExecuteAsync("CLIENT", "KILL", "TYPE", "pubsub").WaitAsync(TestClient.Timeout);
        var channel = RedisKeys.ServerChannel(a.Id);
        await ZooKeeperTestSupport.Until(
            async () => (long)((RedisResult[])(await db.ExecuteAsync("PUBSUB", "NUMSUB", channel))!)[1] == 0,
            "server A's subscription is gone");

        // Bob still has his route, so B publishes the push to A's channel, where nobody listens.
        var lost = (await aliceOnB.SendMessageAsync(new Target { UserId = bob }, "lost", "published while A was not subscribed")).SendAck;
        Assert.Equal(1, lost.OnlineRecipients);

        redisPath.Restore();

        var hint = await bobOnA.WaitForAsync(e => e.BodyCase == Envelope.BodyOneofCase.SyncHint, RecoveryTimeout);
        Assert.Equal(SyncHint.Types.Reason.SubscriptionRestored, hint.SyncHint.Reason);
        var page = await bobOnA.RequestAsync(new Envelope { Sync = new SyncRequest { ConversationId = lost.ConversationId, AfterSeq = lost.Seq - 1 } });
        Assert.Equal(["lost"], page.SyncResponse.Messages.Select(m => m.ClientMsgId));

        // The hint came after the subscription was live again: the next message is pushed.
        await aliceOnB.SendMessageAsync(new Target { UserId = bob }, "after", "pushed again").WaitAsync(TestClient.Timeout);
        Assert.Equal("after", (await bobOnA.WaitForDeliverAsync(m => m.ClientMsgId == "after")).ClientMsgId);
        Assert.False(bobOnA.Closed.Task.IsCompleted);
    }
}
