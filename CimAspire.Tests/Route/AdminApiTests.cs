using System.Net;
using System.Net.Http.Json;
using CimAspire.Delivery.Routes;
using CimAspire.Protocol;
using Microsoft.Extensions.DependencyInjection;

namespace CimAspire.Tests.Route;

[Collection(RouteApiCollection.Name)]
public class AdminApiTests(RouteApiFixture fixture)
{
    private readonly HttpClient _http = fixture.Api.CreateClient();

    private RouteStore Routes => fixture.Api.Services.GetRequiredService<RouteStore>();

    private async Task<HttpResponseMessage> AdminAsync(HttpMethod method, string path, string? key = RouteApiFactory.AdminKey)
    {
        using var request = new HttpRequestMessage(method, path);
        if (key is not null)
        {
            request.Headers.Add("X-Admin-Key", key);
        }

        return await _http.SendAsync(request).WaitAsync(RouteApiTestExtensions.Timeout);
    }

    [Fact]
    public async Task AdministrationNeedsTheAdminKey()
    {
        var user = await _http.NewUserAsync("notadmin");
        foreach (var (method, path) in new[]
        {
            (HttpMethod.Get, "/api/admin/cluster"),
            (HttpMethod.Post, $"/api/admin/users/{user.UserId}/kick"),
            (HttpMethod.Post, $"/api/admin/servers/{fixture.Server.Id}/drain"),
        })
        {
            using var missing = await AdminAsync(method, path, key: null);
            Assert.Contains("X-Admin-Key", (await missing.AssertProblemAsync(HttpStatusCode.Unauthorized)).Detail());
            using var wrong = await AdminAsync(method, path, key: "wrong-admin-key-0000000000");
            Assert.Contains("wrong", (await wrong.AssertProblemAsync(HttpStatusCode.Unauthorized)).Detail());
            using var userToken = await _http.SendAsync(method, path, user.Token);
            await userToken.AssertProblemAsync(HttpStatusCode.Unauthorized);
        }

        // The admin key is no user token either.
        using var asUser = await AdminAsync(HttpMethod.Get, "/api/groups");
        await asUser.AssertProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task TheClusterOverviewShowsLiveServersTheirConnectionsAndTheOnlineCount()
    {
        var user = await _http.NewUserAsync("counted");
        await Routes.ClaimAsync(user.UserId, fixture.Server.Id, RouteClaimMode.Shared).WaitAsync(RouteApiTestExtensions.Timeout);
        await Routes.ReportLoadAsync(fixture.Server.Id, 42).WaitAsync(RouteApiTestExtensions.Timeout);

        using var response = await AdminAsync(HttpMethod.Get, "/api/admin/cluster");
        var cluster = await response.ReadAsync<ClusterOverviewDto>();
        var server = Assert.Single(cluster.Servers);
        Assert.Equal(fixture.Server.Id, server.ServerId);
        Assert.Equal(fixture.Server.Registration.Port, server.Port);
        Assert.Equal(42, server.Connections);
        Assert.Equal(await Routes.GetOnlineCountAsync(), cluster.OnlineUsers);
        Assert.True(cluster.OnlineUsers >= 1);
    }

    [Fact]
    public async Task AKickEndsTheUsersSessionsAndDropsTheirConnections()
    {
        var user = await _http.NewUserAsync("kicked");
        var secondDevice = await _http.LoginAsync(user.UserName);
        await Routes.ClaimAsync(user.UserId, fixture.Server.Id, RouteClaimMode.Shared).WaitAsync(RouteApiTestExtensions.Timeout);
        await using var channel = await ServerChannelProbe.StartAsync(fixture.Api.Services, fixture.Server.Id);

        using var response = await AdminAsync(HttpMethod.Post, $"/api/admin/users/{user.UserId}/kick");
        var kick = await response.ReadAsync<KickResponse>();
        Assert.Equal([fixture.Server.Id], kick.Servers);
        Assert.Equal(2, kick.SessionsEnded);

        var delivered = await channel.WaitForAsync(d => d.Kick is not null && d.RecipientIds.Contains(user.UserId));
        Assert.Equal(Kick.Types.Reason.Admin, delivered.Kick.Reason);
        foreach (var token in new[] { user.Token, secondDevice.Token })
        {
            using var refused = await _http.SendAsync(HttpMethod.Post, RouteApiPaths.Refresh, token);
            await refused.AssertProblemAsync(HttpStatusCode.Unauthorized);
        }

        using var unknown = await AdminAsync(HttpMethod.Post, "/api/admin/users/987654321/kick");
        await unknown.AssertProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task DrainAsksTheServerToMoveItsUsersAway()
    {
        await using var channel = await ServerChannelProbe.StartAsync(fixture.Api.Services, fixture.Server.Id);
        using var response = await AdminAsync(HttpMethod.Post, $"/api/admin/servers/{fixture.Server.Id}/drain");
        var drain = await response.ReadAsync<DrainResponse>(HttpStatusCode.Accepted);
        Assert.Equal(fixture.Server.Id, drain.ServerId);
        var delivered = await channel.WaitForAsync(d => d.Kick is not null && d.AllUsers);
        Assert.Equal(Kick.Types.Reason.Draining, delivered.Kick.Reason);

        using var unknown = await AdminAsync(HttpMethod.Post, "/api/admin/servers/no-such-server/drain");
        await unknown.AssertProblemAsync(HttpStatusCode.NotFound);
    }
}
