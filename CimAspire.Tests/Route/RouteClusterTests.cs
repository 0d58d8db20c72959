using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using CimAspire.Protocol;
using Google.Protobuf;
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

    /// <summary>Asks for the cluster overview until it satisfies <paramref name="condition"/> (bounded).</summary>
    private async Task<ClusterOverviewDto> WaitForOverviewAsync(HttpClient http, Func<ClusterOverviewDto, bool> condition)
    {
        var deadline = DateTime.UtcNow + RouteApiTestExtensions.Timeout;
        while (true)
        {
            var overview = await OverviewAsync(http);
            if (condition(overview) || DateTime.UtcNow > deadline)
            {
                return overview;
            }

            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task AKilledImServerLeavesTheRoutesViewAndItsUsersGoOfflineAtOnceAndOthersAreTold()
    {
        using var http = cluster.CreateRouteClient();
        await cluster.WaitUntilRouteListsImServersAsync(ClusterFixture.ImServerReplicas);

        // A user logs in over TCP with the token the route API issued, so the IM server holds their route.
        var login = await http.NewUserAsync("ghost");
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(login.Server.Host, login.Server.Port).WaitAsync(RouteApiTestExtensions.Timeout);
        var stream = tcp.GetStream();
        new Envelope { RequestId = 1, Login = new LoginRequest { Token = login.Token, Client = "route-cluster-tests" } }.WriteDelimitedTo(stream);
        var reply = await Task.Run(() => Envelope.Parser.ParseDelimitedFrom(stream)).WaitAsync(RouteApiTestExtensions.Timeout);
        Assert.Equal(login.UserId, reply.LoginResult.UserId);

        var presencePath = RouteApiPaths.UserPresence.Replace("{userId}", login.UserId.ToString(CultureInfo.InvariantCulture));
        using (var online = await http.SendAsync(HttpMethod.Get, presencePath, login.Token))
        {
            var presence = await online.ReadAsync<PresenceDto>();
            Assert.True(presence.Online);
            Assert.Equal(login.Server.ServerId, presence.ServerId);
        }

        // Another user, held by the other IM server, is told live that the ghost went offline.
        var watcher = await http.NewUserAsync("watcher");
        if (watcher.Server.ServerId == login.Server.ServerId)
        {
            using var moved = await http.SendAsync(HttpMethod.Post, RouteApiPaths.Refresh, watcher.Token, new RefreshRequest(login.Server.ServerId));
            watcher = await moved.ReadAsync<LoginResponse>();
        }

        Assert.NotEqual(login.Server.ServerId, watcher.Server.ServerId);
        using var watcherTcp = new TcpClient();
        await watcherTcp.ConnectAsync(watcher.Server.Host, watcher.Server.Port).WaitAsync(RouteApiTestExtensions.Timeout);
        var watcherStream = watcherTcp.GetStream();
        new Envelope { RequestId = 1, Login = new LoginRequest { Token = watcher.Token, Client = "route-cluster-tests" } }.WriteDelimitedTo(watcherStream);
        var ghostOffline = Task.Run(() =>
        {
            // Frames in order: the login result, then notices (the ghost may first be announced online).
            while (true)
            {
                var frame = Envelope.Parser.ParseDelimitedFrom(watcherStream);
                if (frame.Notice?.Presence is { Online: false } presence && presence.UserId == login.UserId)
                {
                    return presence;
                }
            }
        });

        var replica = cluster.FindImServerReplica(login.Server.ServerId);
        await cluster.KillReplicaAsync(replica.ResourceName).WaitAsync(ClusterFixture.ReplicaTimeout);
        try
        {
            // The server's ephemeral node goes when its ZooKeeper session expires; the route API drops it from its view
            // and marks its users offline then, without waiting for any heartbeat of theirs.
            var overview = await WaitForOverviewAsync(http, o => o.Servers.All(s => s.ServerId != login.Server.ServerId));
            Assert.DoesNotContain(overview.Servers, s => s.ServerId == login.Server.ServerId);
            Assert.Single(overview.Servers);

            PresenceDto? after = null;
            var deadline = DateTime.UtcNow + RouteApiTestExtensions.Timeout;
            while (DateTime.UtcNow < deadline)
            {
                using var response = await http.SendAsync(HttpMethod.Get, presencePath, login.Token);
                after = await response.ReadAsync<PresenceDto>();
                if (!after.Online)
                {
                    break;
                }

                await Task.Delay(200);
            }

            Assert.False(after!.Online, $"user {login.UserId} still shows online on {after.ServerId}");
            var announced = await ghostOffline.WaitAsync(RouteApiTestExtensions.Timeout);
            Assert.Equal(login.UserName, announced.UserName);
        }
        finally
        {
            await cluster.StartReplicaAsync(replica.ResourceName);
            await cluster.WaitUntilHealthyAsync("im-server").WaitAsync(ClusterFixture.ReplicaTimeout);
            await WaitForOverviewAsync(http, o => o.Servers.Count == ClusterFixture.ImServerReplicas);
        }
    }

    [Fact]
    public async Task LoginPicksARegisteredImServerThatAcceptsConnectionsAndEveryReplicaHonoursTheSession()
    {
        using var http = cluster.CreateRouteClient();
        // The registry fills as the IM servers register; wait (bounded) until every running replica is listed.
        await cluster.WaitUntilRouteListsImServersAsync(ClusterFixture.ImServerReplicas);
        var servers = (await OverviewAsync(http)).Servers.ToDictionary(s => s.ServerId);

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
