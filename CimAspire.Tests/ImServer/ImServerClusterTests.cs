using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using CimAspire.Protocol;
using CimAspire.Tests.Cluster;
using CimAspire.Tests.Route;
using CimAspire.ZooKeeper;
using Xunit.Abstractions;

namespace CimAspire.Tests.ImServer;

/// <summary>
/// The IM server as the AppHost runs it: replicas registered in ZooKeeper, tokens from the route API, real sockets.
/// Tests that stop a replica start it again before they end, so the rest of the collection sees the full cluster.
/// </summary>
[Collection("cluster")]
public sealed class ImServerClusterTests(ClusterFixture cluster, ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AClientLogsInWithARouteApiTokenAndGetsPongs()
    {
        using var http = cluster.CreateRouteClient();
        var login = await http.NewUserAsync("pinger");

        await using var client = await TestClient.ConnectAsync(login.Server.Host, login.Server.Port);
        var result = await LoginAsync(client, login.Token);

        Assert.Equal(Envelope.BodyOneofCase.LoginResult, result.BodyCase);
        Assert.Equal(login.UserId, result.LoginResult.UserId);
        Assert.Equal(login.UserName, result.LoginResult.UserName);
        Assert.Equal(login.Server.ServerId, result.LoginResult.ServerId);
        // The heartbeat the fixture gave the AppHost (Cim:ImServer:*) reached the replicas.
        Assert.Equal((int)ClusterFixture.ImServerPingInterval.TotalMilliseconds, result.LoginResult.PingIntervalMs);
        Assert.Equal((int)ClusterFixture.ImServerIdleTimeout.TotalMilliseconds, result.LoginResult.IdleTimeoutMs);

        for (var i = 1; i <= 3; i++)
        {
            var pong = await client.RequestAsync(new Envelope { Ping = new Ping { ClientTimeMs = 1000 + i } });
            Assert.Equal(Envelope.BodyOneofCase.Pong, pong.BodyCase);
            Assert.Equal(1000 + i, pong.Pong.ClientTimeMs);
            Assert.True(pong.Pong.ServerTimeMs > 0);
        }

        Assert.False(client.Closed.Task.IsCompleted);
    }

    [Theory]
    [InlineData("before-login", ErrorCode.NotAuthenticated)]
    [InlineData("forged", ErrorCode.InvalidToken)]
    [InlineData("expired", ErrorCode.TokenExpired)]
    [InlineData("other-server", ErrorCode.InvalidToken)]
    public async Task RefusedClientsGetTheirErrorAndAreDisconnected(string kind, ErrorCode expected)
    {
        using var http = cluster.CreateRouteClient();
        var login = await http.NewUserAsync("refused");
        var target = login.Server;
        Envelope first;
        switch (kind)
        {
            case "before-login":
                first = new Envelope { Ping = new Ping() };
                break;
            case "forged":
                // Well formed, for the right server and user, but signed with a key the servers do not share.
                first = LoginFrame(new AccessTokenCodec($"forger-{Guid.NewGuid():N}").Issue(Claims(login, login.Server.ServerId, TimeSpan.FromHours(1))));
                break;
            case "expired":
                first = LoginFrame(new AccessTokenCodec(cluster.TokenKey).Issue(Claims(login, login.Server.ServerId, TimeSpan.FromMinutes(-1))));
                break;
            default:
                // A genuine token from the route API, presented to a server it was not issued for.
                target = await OtherServerAsync(http, login.Server.ServerId);
                first = LoginFrame(login.Token);
                break;
        }

        await using var client = await TestClient.ConnectAsync(target.Host, target.Port);
        await client.SendAsync(first);

        var error = (await client.WaitForAsync(e => e.BodyCase == Envelope.BodyOneofCase.Error)).Error;
        Assert.Equal(expected, error.Code);
        Assert.True(error.Fatal);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
        await client.Closed.Task.WaitAsync(Timeout);
        Assert.DoesNotContain(client.Frames, f => f.BodyCase == Envelope.BodyOneofCase.LoginResult);
    }

    [Fact]
    public async Task ASilentLoggedInClientIsDisconnectedAfterTheIdleTimeout()
    {
        using var http = cluster.CreateRouteClient();
        var login = await http.NewUserAsync("silent");
        await using var client = await TestClient.ConnectAsync(login.Server.Host, login.Server.Port);
        var connected = Stopwatch.StartNew();
        Assert.Equal(Envelope.BodyOneofCase.LoginResult, (await LoginAsync(client, login.Token)).BodyCase);

        var error = (await client.WaitForAsync(
            e => e.BodyCase == Envelope.BodyOneofCase.Error,
            ClusterFixture.ImServerIdleTimeout + TimeSpan.FromSeconds(30))).Error;
        var silentFor = connected.Elapsed;
        output.WriteLine($"Closed with {error.Code} after {silentFor.TotalSeconds:F1} s of silence");

        Assert.Equal(ErrorCode.IdleTimeout, error.Code);
        Assert.True(error.Fatal);
        // Not before the timeout (the server's clock starts when the connection opened, just before ours did).
        Assert.True(silentFor >= ClusterFixture.ImServerIdleTimeout - TimeSpan.FromMilliseconds(500), $"Cut after only {silentFor}.");
        await client.Closed.Task.WaitAsync(Timeout);

        // The session went with the connection: the user is offline.
        var presencePath = RouteApiPaths.UserPresence.Replace("{userId}", login.UserId.ToString(CultureInfo.InvariantCulture));
        await PollAsync(async () =>
        {
            using var response = await http.SendAsync(HttpMethod.Get, presencePath, login.Token);
            return !(await response.ReadAsync<PresenceDto>()).Online;
        }, "the silent user is still online");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ARepeatLoginKicksTheOldConnectionWithReplacedAndTheNewOneWorks(bool sameServer)
    {
        using var http = cluster.CreateRouteClient();
        var name = RouteApiTestExtensions.UniqueName("twice");
        await http.RegisterAsync(name);

        var firstLogin = await http.LoginAsync(name);
        await using var first = await TestClient.ConnectAsync(firstLogin.Server.Host, firstLogin.Server.Port);
        Assert.Equal(Envelope.BodyOneofCase.LoginResult, (await LoginAsync(first, firstLogin.Token)).BodyCase);

        // A second login (another device, a new session), steered to the first one's server or to the other through
        // refresh's avoidServerId: the old connection must be kicked locally and across servers alike.
        var other = await OtherServerAsync(http, firstLogin.Server.ServerId);
        var newSession = await http.LoginAsync(name);
        using var refresh = await http.SendAsync(
            HttpMethod.Post, RouteApiPaths.Refresh, newSession.Token, new RefreshRequest(sameServer ? other.ServerId : firstLogin.Server.ServerId));
        var secondLogin = await refresh.ReadAsync<LoginResponse>();
        Assert.Equal(sameServer ? firstLogin.Server.ServerId : other.ServerId, secondLogin.Server.ServerId);
        await using var second = await TestClient.ConnectAsync(secondLogin.Server.Host, secondLogin.Server.Port);
        Assert.Equal(Envelope.BodyOneofCase.LoginResult, (await LoginAsync(second, secondLogin.Token)).BodyCase);

        var kick = (await first.WaitForAsync(e => e.BodyCase == Envelope.BodyOneofCase.Kick)).Kick;
        Assert.Equal(Kick.Types.Reason.Replaced, kick.Reason);
        Assert.False(string.IsNullOrWhiteSpace(kick.Message));
        await first.Closed.Task.WaitAsync(Timeout);

        Assert.Equal(Envelope.BodyOneofCase.Pong, (await second.RequestAsync(new Envelope { Ping = new Ping() })).BodyCase);
        var ack = await second.SendMessageAsync(new Target { UserId = secondLogin.UserId }, "after-replace", "still mine");
        Assert.Equal(Envelope.BodyOneofCase.SendAck, ack.BodyCase);
        Assert.Equal("after-replace", (await second.WaitForDeliverAsync(m => m.ClientMsgId == "after-replace")).ClientMsgId);
        Assert.False(second.Closed.Task.IsCompleted);
    }

    [Fact]
    public async Task AStoppedReplicaDeregistersAndDrainsItsClientsBeforeClosing()
    {
        using var http = cluster.CreateRouteClient();
        await cluster.WaitUntilRouteListsImServersAsync(ClusterFixture.ImServerReplicas);
        var login = await http.NewUserAsync("drained");
        var serverId = login.Server.ServerId;
        await using var client = await TestClient.ConnectAsync(login.Server.Host, login.Server.Port);
        Assert.Equal(Envelope.BodyOneofCase.LoginResult, (await LoginAsync(client, login.Token)).BodyCase);

        await using var zookeeper = new ZooKeeperClient(new ZooKeeperClientOptions { ConnectionString = cluster.ZooKeeperConnectionString });
        await zookeeper.ConnectAsync().WaitAsync(Timeout);
        var node = $"/cim/servers/{serverId}";
        Assert.NotNull(await zookeeper.ExistsAsync(node).WaitAsync(Timeout));

        var replica = cluster.FindImServerReplica(serverId);
        var servicePid = int.Parse(serverId.Split('-')[^2], CultureInfo.InvariantCulture);
        var stopwatch = Stopwatch.StartNew();
        var stopping = cluster.StopImServerAsync(serverId);
        try
        {

            var kick = (await client.WaitForAsync(e => e.BodyCase == Envelope.BodyOneofCase.Kick, ClusterFixture.ReplicaTimeout)).Kick;
            Assert.Equal(Kick.Types.Reason.Draining, kick.Reason);
            // The server leaves the registry before it sends anyone away, so a client that reconnects at once is not
            // routed back to it: the node is gone by the time the kick arrives, long before a session could expire.
            Assert.Null(await zookeeper.ExistsAsync(node).WaitAsync(Timeout));
            await client.Closed.Task.WaitAsync(Timeout);
            Assert.Equal(Envelope.BodyOneofCase.Kick, client.Frames[^1].BodyCase);
            output.WriteLine($"Kicked and closed {stopwatch.Elapsed.TotalSeconds:F1} s after SIGTERM to process {servicePid} ({replica.ResourceName})");

            Assert.Equal(replica, await stopping.WaitAsync(ClusterFixture.ReplicaTimeout));
            output.WriteLine($"Aspire saw {replica.ResourceName} stopped after {stopwatch.Elapsed.TotalSeconds:F1} s");
            Assert.Throws<ArgumentException>(() => Process.GetProcessById(servicePid).Dispose());

            await cluster.WaitUntilRouteListsImServersAsync(ClusterFixture.ImServerReplicas - 1);
            var overview = await OverviewAsync(http);
            Assert.DoesNotContain(overview.Servers, s => s.ServerId == serverId);

            // Logging in again, as the kick tells the client to, leads to a live server.
            var again = await http.LoginAsync(login.UserName);
            Assert.NotEqual(serverId, again.Server.ServerId);
            await using var reconnected = await TestClient.ConnectAsync(again.Server.Host, again.Server.Port);
            Assert.Equal(Envelope.BodyOneofCase.LoginResult, (await LoginAsync(reconnected, again.Token)).BodyCase);
        }
        finally
        {
            // Restore the full cluster for the next test, also when an assertion above failed mid-stop.
            await Task.WhenAny(stopping, Task.Delay(ClusterFixture.ReplicaTimeout));
            await cluster.StartReplicaAsync(replica.ResourceName);
        }
    }

    private static Task<Envelope> LoginAsync(TestClient client, string token)
        => client.RequestAsync(new Envelope { Login = new LoginRequest { Token = token, Client = "im-cluster-tests" } });

    private static Envelope LoginFrame(string token) => new() { RequestId = 1, Login = new LoginRequest { Token = token, Client = "im-cluster-tests" } };

    private static AccessTokenClaims Claims(LoginResponse login, string serverId, TimeSpan lifetime)
        => new(login.UserId, login.UserName, serverId, Guid.NewGuid().ToString("N"), DateTimeOffset.UtcNow.Add(lifetime).ToUnixTimeSeconds());

    private async Task<ClusterOverviewDto> OverviewAsync(HttpClient http)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, RouteApiPaths.AdminCluster);
        request.Headers.Add("X-Admin-Key", cluster.AdminKey);
        using var response = await http.SendAsync(request).WaitAsync(Timeout);
        return (await response.Content.ReadFromJsonAsync<ClusterOverviewDto>().WaitAsync(Timeout))!;
    }

    private async Task<ServerEndpointDto> OtherServerAsync(HttpClient http, string serverId)
    {
        await cluster.WaitUntilRouteListsImServersAsync(ClusterFixture.ImServerReplicas);
        var other = (await OverviewAsync(http)).Servers.First(s => s.ServerId != serverId);
        return new ServerEndpointDto(other.ServerId, other.Host, other.Port);
    }

    private static async Task PollAsync(Func<Task<bool>> condition, string failure)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(deadline.Elapsed < Timeout, failure);
            await Task.Delay(200);
        }
    }
}
