using CimAspire.Delivery.Routes;

namespace CimAspire.Tests.Delivery;

public sealed class RouteStoreTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AStaleReleaseDoesNotRemoveANewerRoute()
    {
        var routes = fixture.CreateRouteStore();
        var user = RedisFixture.NewUserId();

        var old = await routes.ClaimAsync(user, "srv-a", RouteClaimMode.Exclusive).WaitAsync(Timeout);
        var newer = await routes.ClaimAsync(user, "srv-b", RouteClaimMode.Exclusive).WaitAsync(Timeout);
        Assert.True(newer.Epoch > old.Epoch);
        Assert.Equal(["srv-a"], newer.OtherServers);

        Assert.False((await routes.ReleaseAsync(user, "srv-a", old.Epoch).WaitAsync(Timeout)).Released);
        var route = Assert.Single(await routes.GetRouteAsync(user).WaitAsync(Timeout));
        Assert.Equal(("srv-b", newer.Epoch), (route.ServerId, route.Epoch));
        Assert.NotNull(await routes.GetOnlineSinceAsync(user).WaitAsync(Timeout));

        Assert.True((await routes.ReleaseAsync(user, "srv-b", newer.Epoch).WaitAsync(Timeout)).Released);
        Assert.Empty(await routes.GetRouteAsync(user).WaitAsync(Timeout));
        Assert.Null(await routes.GetOnlineSinceAsync(user).WaitAsync(Timeout));
    }

    [Fact]
    public async Task EpochsKeepGrowingAfterARouteWasRemoved()
    {
        var routes = fixture.CreateRouteStore();
        var user = RedisFixture.NewUserId();

        var first = await routes.ClaimAsync(user, "srv-a", RouteClaimMode.Exclusive).WaitAsync(Timeout);
        Assert.True((await routes.ReleaseAsync(user, "srv-a", first.Epoch).WaitAsync(Timeout)).Released);
        var second = await routes.ClaimAsync(user, "srv-a", RouteClaimMode.Exclusive).WaitAsync(Timeout);

        Assert.True(second.Epoch > first.Epoch);
        // A late duplicate of the first release must not end the second login.
        Assert.False((await routes.ReleaseAsync(user, "srv-a", first.Epoch).WaitAsync(Timeout)).Released);
        Assert.Single(await routes.GetRouteAsync(user).WaitAsync(Timeout));
    }

    [Fact]
    public async Task SharedClaimsKeepOtherServersAndRejectingClaimsRefuse()
    {
        var routes = fixture.CreateRouteStore();
        var user = RedisFixture.NewUserId();

        await routes.ClaimAsync(user, "srv-a", RouteClaimMode.Shared).WaitAsync(Timeout);
        var shared = await routes.ClaimAsync(user, "srv-b", RouteClaimMode.Shared).WaitAsync(Timeout);
        Assert.True(shared.Accepted);
        Assert.Equal(["srv-a", "srv-b"], (await routes.GetRouteAsync(user).WaitAsync(Timeout)).Select(r => r.ServerId).Order());

        var refused = await routes.ClaimAsync(user, "srv-c", RouteClaimMode.RejectIfElsewhere).WaitAsync(Timeout);
        Assert.False(refused.Accepted);
        Assert.Equal(["srv-a", "srv-b"], refused.OtherServers.Order());
        Assert.DoesNotContain("srv-c", (await routes.GetRouteAsync(user).WaitAsync(Timeout)).Select(r => r.ServerId));
    }

    [Fact]
    public async Task AServerThatLeftTakesItsUsersOfflineButNotUsersHeldElsewhere()
    {
        var routes = fixture.CreateRouteStore();
        var server = $"srv-gone-{Guid.NewGuid():N}";
        long onlyThere = RedisFixture.NewUserId(), alsoElsewhere = RedisFixture.NewUserId();
        await routes.ClaimAsync(onlyThere, server, RouteClaimMode.Shared).WaitAsync(Timeout);
        await routes.ClaimAsync(alsoElsewhere, server, RouteClaimMode.Shared).WaitAsync(Timeout);
        await routes.ClaimAsync(alsoElsewhere, "srv-other", RouteClaimMode.Shared).WaitAsync(Timeout);
        await routes.ReportLoadAsync(server, 2).WaitAsync(Timeout);

        var departure = await routes.MarkServerOfflineAsync(server).WaitAsync(Timeout);
        Assert.Equal(2, departure.Users);
        Assert.Equal([onlyThere], departure.WentOffline);

        Assert.Null(await routes.GetOnlineSinceAsync(onlyThere).WaitAsync(Timeout));
        Assert.NotNull(await routes.GetOnlineSinceAsync(alsoElsewhere).WaitAsync(Timeout));
        var all = await routes.GetRoutesAsync([onlyThere, alsoElsewhere]).WaitAsync(Timeout);
        Assert.False(all.ContainsKey(onlyThere));
        Assert.Equal("srv-other", Assert.Single(all[alsoElsewhere]).ServerId);
        Assert.Empty(await routes.GetServerUsersAsync(server).WaitAsync(Timeout));
        Assert.False((await routes.GetLoadsAsync().WaitAsync(Timeout)).ContainsKey(server));
    }

    [Fact]
    public async Task OnlyTheFirstClaimAndTheLastReleaseArePresenceTransitions()
    {
        var routes = fixture.CreateRouteStore();
        var user = RedisFixture.NewUserId();

        var first = await routes.ClaimAsync(user, "srv-a", RouteClaimMode.Shared).WaitAsync(Timeout);
        Assert.True(first.CameOnline);
        // A second connection on the same server, and a device on another server, are not new presence.
        var again = await routes.ClaimAsync(user, "srv-a", RouteClaimMode.Shared).WaitAsync(Timeout);
        Assert.False(again.CameOnline);
        var elsewhere = await routes.ClaimAsync(user, "srv-b", RouteClaimMode.Shared).WaitAsync(Timeout);
        Assert.False(elsewhere.CameOnline);

        // Releasing one of two servers leaves the user online; a stale release changes nothing.
        Assert.Equal(new RouteRelease(true, false), await routes.ReleaseAsync(user, "srv-a", again.Epoch).WaitAsync(Timeout));
        Assert.Equal(new RouteRelease(false, false), await routes.ReleaseAsync(user, "srv-b", first.Epoch).WaitAsync(Timeout));
        Assert.NotNull(await routes.GetOnlineSinceAsync(user).WaitAsync(Timeout));

        Assert.Equal(new RouteRelease(true, true), await routes.ReleaseAsync(user, "srv-b", elsewhere.Epoch).WaitAsync(Timeout));
        Assert.Null(await routes.GetOnlineSinceAsync(user).WaitAsync(Timeout));
        // The entry is gone: a late duplicate of that release is stale and reports nothing.
        Assert.Equal(new RouteRelease(false, false), await routes.ReleaseAsync(user, "srv-b", elsewhere.Epoch).WaitAsync(Timeout));

        var back = await routes.ClaimAsync(user, "srv-c", RouteClaimMode.Exclusive).WaitAsync(Timeout);
        Assert.True(back.CameOnline);
    }

    [Fact]
    public async Task AnExclusiveClaimThatTakesOverIsNoTransitionAndTheKickedServersReleaseIsStale()
    {
        var routes = fixture.CreateRouteStore();
        var user = RedisFixture.NewUserId();

        var old = await routes.ClaimAsync(user, "srv-a", RouteClaimMode.Exclusive).WaitAsync(Timeout);
        var newer = await routes.ClaimAsync(user, "srv-b", RouteClaimMode.Exclusive).WaitAsync(Timeout);
        Assert.True(old.CameOnline);
        Assert.False(newer.CameOnline);
        Assert.Equal(new RouteRelease(false, false), await routes.ReleaseAsync(user, "srv-a", old.Epoch).WaitAsync(Timeout));

        var refused = await routes.ClaimAsync(user, "srv-c", RouteClaimMode.RejectIfElsewhere).WaitAsync(Timeout);
        Assert.False(refused.Accepted || refused.CameOnline);
    }

    [Fact]
    public async Task ASecondRemovalOfTheSameServerReportsNobody()
    {
        var routes = fixture.CreateRouteStore();
        var server = $"srv-gone-{Guid.NewGuid():N}";
        long one = RedisFixture.NewUserId(), two = RedisFixture.NewUserId();
        await routes.ClaimAsync(one, server, RouteClaimMode.Shared).WaitAsync(Timeout);
        await routes.ClaimAsync(two, server, RouteClaimMode.Shared).WaitAsync(Timeout);

        var departure = await routes.MarkServerOfflineAsync(server).WaitAsync(Timeout);
        Assert.Equal([one, two], departure.WentOffline.Order());

        // Another route replica seeing the same departure: nothing left to take offline.
        var repeated = await routes.MarkServerOfflineAsync(server).WaitAsync(Timeout);
        Assert.Equal(0, repeated.Users);
        Assert.Empty(repeated.WentOffline);
    }
}
