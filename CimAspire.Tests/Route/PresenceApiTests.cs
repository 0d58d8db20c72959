using System.Net;
using CimAspire.Delivery.Routes;
using CimAspire.Protocol;
using Microsoft.Extensions.DependencyInjection;

namespace CimAspire.Tests.Route;

[Collection(RouteApiCollection.Name)]
public class PresenceApiTests(RouteApiFixture fixture)
{
    private readonly HttpClient _http = fixture.Api.CreateClient();

    private RouteStore Routes => fixture.Api.Services.GetRequiredService<RouteStore>();

    [Fact]
    public async Task AUserConnectedToAServerIsOnlineThereAndListedAmongTheOnlineUsers()
    {
        var online = await _http.NewUserAsync("online");
        var offline = await _http.NewUserAsync("offline");
        // What an IM server does when the client connects with its token.
        await Routes.ClaimAsync(online.UserId, online.Server.ServerId, RouteClaimMode.Shared).WaitAsync(RouteApiTestExtensions.Timeout);

        using var one = await _http.SendAsync(HttpMethod.Get, $"/api/presence/{online.UserId}", offline.Token);
        var presence = await one.ReadAsync<PresenceDto>();
        Assert.True(presence.Online);
        Assert.Equal(online.Server.ServerId, presence.ServerId);
        Assert.Equal(online.UserName, presence.UserName);
        Assert.NotNull(presence.Since);

        using var other = await _http.SendAsync(HttpMethod.Get, $"/api/presence/{offline.UserId}", online.Token);
        var absent = await other.ReadAsync<PresenceDto>();
        Assert.False(absent.Online);
        Assert.Null(absent.ServerId);

        using var listed = await _http.SendAsync(HttpMethod.Get, "/api/presence/online?page=0&pageSize=500", offline.Token);
        var page = await listed.ReadAsync<OnlineUsersPage>();
        Assert.Contains(page.Users, u => u.UserId == online.UserId && u.Online && u.ServerId == online.Server.ServerId && u.UserName == online.UserName);
        Assert.DoesNotContain(page.Users, u => u.UserId == offline.UserId);
        Assert.True(page.Total >= 1);
        Assert.Equal(0, page.Page);
        Assert.Equal(500, page.PageSize);

        using var small = await _http.SendAsync(HttpMethod.Get, "/api/presence/online?page=0&pageSize=1", offline.Token);
        Assert.Single((await small.ReadAsync<OnlineUsersPage>()).Users);
        using var beyond = await _http.SendAsync(HttpMethod.Get, "/api/presence/online?page=100000&pageSize=10", offline.Token);
        var empty = await beyond.ReadAsync<OnlineUsersPage>();
        Assert.Empty(empty.Users);
        Assert.Equal(page.Total, empty.Total);
    }

    [Theory]
    [InlineData("page=-1")]
    [InlineData("pageSize=0")]
    [InlineData("pageSize=501")]
    [InlineData("page=first")]
    public async Task BadPagingIsA400Problem(string query)
    {
        var login = await _http.NewUserAsync("paging");
        using var response = await _http.SendAsync(HttpMethod.Get, $"/api/presence/online?{query}", login.Token);
        await response.AssertProblemAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task PresenceOfAnUnknownUserIsA404AndWithoutATokenA401()
    {
        var login = await _http.NewUserAsync("who");
        using var unknown = await _http.SendAsync(HttpMethod.Get, "/api/presence/987654321", login.Token);
        await unknown.AssertProblemAsync(HttpStatusCode.NotFound);
        using var anonymous = await _http.SendAsync(HttpMethod.Get, "/api/presence/online");
        await anonymous.AssertProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task WhenAServerLeavesTheRegistryItsUsersAreOfflineAtOnceOnEveryReplicaAndTheOthersAreTold()
    {
        await using var leaving = new FakeImServer("leaving-" + Guid.NewGuid().ToString("N")[..8]);
        await using var staying = new FakeImServer("staying-" + Guid.NewGuid().ToString("N")[..8]);
        var directoryOne = new TestServerDirectory();
        var directoryTwo = new TestServerDirectory();
        directoryOne.Set(leaving.Registration, staying.Registration);
        directoryTwo.Set(leaving.Registration, staying.Registration);
        // Two replicas, each watching the registry; both react to the departure, which must be harmless.
        var one = fixture.CreateApi(directoryOne, new Dictionary<string, string?> { ["Cim:Route:Strategy"] = "RoundRobin" });
        var two = fixture.CreateApi(directoryTwo, new Dictionary<string, string?>());
        var http = one.CreateClient();
        var routes = one.Services.GetRequiredService<RouteStore>();
        _ = two.CreateClient();

        var onLeaving = await http.NewUserAsync("ghost");
        var onStaying = await http.NewUserAsync("alive");
        await routes.ClaimAsync(onLeaving.UserId, leaving.Id, RouteClaimMode.Shared).WaitAsync(RouteApiTestExtensions.Timeout);
        await routes.ClaimAsync(onStaying.UserId, staying.Id, RouteClaimMode.Shared).WaitAsync(RouteApiTestExtensions.Timeout);
        // Also on the staying server: a user on two devices stays online when one server goes.
        await routes.ClaimAsync(onStaying.UserId, leaving.Id, RouteClaimMode.Shared).WaitAsync(RouteApiTestExtensions.Timeout);

        // The staying server is live (it reports its load) and hears the departure as a presence notice.
        await routes.ReportLoadAsync(staying.Id, 1).WaitAsync(RouteApiTestExtensions.Timeout);
        await using var stayingChannel = await ServerChannelProbe.StartAsync(one.Services, staying.Id);

        directoryOne.Set(staying.Registration);
        directoryTwo.Set(staying.Registration);

        var deadline = DateTime.UtcNow + RouteApiTestExtensions.Timeout;
        PresenceDto ghost;
        do
        {
            using var response = await http.SendAsync(HttpMethod.Get, $"/api/presence/{onLeaving.UserId}", onStaying.Token);
            ghost = await response.ReadAsync<PresenceDto>();
            if (!ghost.Online)
            {
                break;
            }

            await Task.Delay(50);
        }
        while (DateTime.UtcNow < deadline);

        Assert.False(ghost.Online);
        using var aliveResponse = await http.SendAsync(HttpMethod.Get, $"/api/presence/{onStaying.UserId}", onStaying.Token);
        var alive = await aliveResponse.ReadAsync<PresenceDto>();
        Assert.True(alive.Online);
        Assert.Equal(staying.Id, alive.ServerId);
        using var listResponse = await http.SendAsync(HttpMethod.Get, "/api/presence/online?pageSize=500", onStaying.Token);
        Assert.DoesNotContain((await listResponse.ReadAsync<OnlineUsersPage>()).Users, u => u.UserId == onLeaving.UserId);

        var notice = await stayingChannel.WaitForAsync(d => d.Notice?.Presence?.UserId == onLeaving.UserId);
        Assert.Equal((onLeaving.UserName, false), (notice.Notice.Presence.UserName, notice.Notice.Presence.Online));
        Assert.True(notice.AllUsers);
        Assert.Equal([onLeaving.UserId], notice.ExcludeUserIds);
        await routes.RemoveLoadAsync(staying.Id).WaitAsync(RouteApiTestExtensions.Timeout);
    }
}
