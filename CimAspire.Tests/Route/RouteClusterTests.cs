using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using CimAspire.Protocol;
using CimAspire.Tests.Cluster;

namespace CimAspire.Tests.Route;

/// <summary>The route API in the whole graph: real ZooKeeper registry, real IM servers, two route replicas behind the proxy.</summary>
[Collection("cluster")]
public sealed class RouteClusterTests(ClusterFixture cluster)
{
    private async Task<ClusterOverviewDto> OverviewAsync(HttpClient http)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, RouteApiPaths.AdminCluster);
        request.Headers.Add("X-Admin-Key", cluster.AdminKey);
        using var response = await http.SendAsync(request).WaitAsync(RouteApiTestExtensions.Timeout);
        return await response.ReadAsync<ClusterOverviewDto>();
    }

    [Fact]
    public async Task LoginPicksARegisteredImServerThatAcceptsConnectionsAndEveryReplicaHonoursTheSession()
    {
        using var http = cluster.CreateRouteClient();
        var servers = new Dictionary<string, ServerOverviewDto>();
        // The registry fills as the IM servers register; wait (bounded) until every replica is listed.
        var deadline = DateTime.UtcNow + RouteApiTestExtensions.Timeout;
        while (servers.Count < ClusterFixture.ImServerReplicas && DateTime.UtcNow < deadline)
        {
            servers = (await OverviewAsync(http)).Servers.ToDictionary(s => s.ServerId);
            if (servers.Count < ClusterFixture.ImServerReplicas)
            {
                await Task.Delay(200);
            }
        }

        Assert.Equal(ClusterFixture.ImServerReplicas, servers.Count);

        var name = RouteApiTestExtensions.UniqueName("cluster");
        await http.RegisterAsync(name);
        var login = await http.LoginAsync(name);
        Assert.True(servers.ContainsKey(login.Server.ServerId), $"{login.Server.ServerId} is not a registered IM server.");
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(login.Server.Host, login.Server.Port).WaitAsync(RouteApiTestExtensions.Timeout);
        }

        // Requests alternate over the route replicas behind the proxy; each must accept the session and agree on the server.
        for (var i = 0; i < 6; i++)
        {
            using var refresh = await http.SendAsync(HttpMethod.Post, RouteApiPaths.Refresh, login.Token, new RefreshRequest(null));
            Assert.Equal(login.Server, (await refresh.ReadAsync<LoginResponse>()).Server);
        }

        using var avoid = await http.SendAsync(HttpMethod.Post, RouteApiPaths.Refresh, login.Token, new RefreshRequest(login.Server.ServerId));
        var moved = await avoid.ReadAsync<LoginResponse>();
        Assert.NotEqual(login.Server.ServerId, moved.Server.ServerId);
        Assert.True(servers.ContainsKey(moved.Server.ServerId));

        using var logout = await http.SendAsync(HttpMethod.Post, RouteApiPaths.Logout, login.Token);
        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        for (var i = 0; i < 4; i++)
        {
            using var refused = await http.SendAsync(HttpMethod.Get, $"/api/accounts/{login.UserId}", moved.Token);
            await refused.AssertProblemAsync(HttpStatusCode.Unauthorized);
        }

        using var wrong = await http.PostAsJsonAsync(RouteApiPaths.Login, new LoginRequestDto(name, "not the password"));
        await wrong.AssertProblemAsync(HttpStatusCode.Unauthorized);
    }
}
