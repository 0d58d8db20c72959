using System.Net;
using System.Net.Http.Json;
using CimAspire.Delivery;
using CimAspire.Protocol;
using StackExchange.Redis;

namespace CimAspire.Tests.Route;

/// <summary>Server selection through login and refresh: each strategy, liveness failover, avoidance and 503.</summary>
[Collection(RouteApiCollection.Name)]
public class ServerSelectionApiTests(RouteApiFixture fixture) : IAsyncLifetime
{
    private readonly List<FakeImServer> _servers = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }
    }

    private FakeImServer Start(string stem)
    {
        var server = new FakeImServer($"{stem}-{Guid.NewGuid():N}"[..20]);
        _servers.Add(server);
        return server;
    }

    private HttpClient Api(TestServerDirectory directory, string strategy) =>
        fixture.CreateApi(directory, new Dictionary<string, string?> { ["Cim:Route:Strategy"] = strategy }).CreateClient();

    private static async Task<List<string>> LoginManyAsync(HttpClient http, int users)
    {
        var servers = new List<string>();
        for (var i = 0; i < users; i++)
        {
            servers.Add((await http.NewUserAsync("sel")).Server.ServerId);
        }

        return servers;
    }

    [Fact]
    public async Task ConsistentHashSendsAUserToTheSameServerEveryTimeAndSpreadsUsers()
    {
        var (a, b) = (Start("ch-a"), Start("ch-b"));
        var directory = new TestServerDirectory();
        directory.Set(a.Registration, b.Registration);
        var http = Api(directory, "ConsistentHash");

        var logins = new List<LoginResponse>();
        for (var i = 0; i < 12; i++)
        {
            logins.Add(await http.NewUserAsync("ch"));
        }

        Assert.Equal(2, logins.Select(l => l.Server.ServerId).Distinct().Count());
        foreach (var login in logins.Take(4))
        {
            Assert.Equal(login.Server, (await http.LoginAsync(login.UserName)).Server);
            using var refresh = await http.SendAsync(HttpMethod.Post, RouteApiPaths.Refresh, login.Token);
            Assert.Equal(login.Server, (await refresh.ReadAsync<LoginResponse>()).Server);
        }
    }

    [Fact]
    public async Task RoundRobinAlternates()
    {
        var (a, b) = (Start("rr-a"), Start("rr-b"));
        var directory = new TestServerDirectory();
        directory.Set(a.Registration, b.Registration);
        var picks = await LoginManyAsync(Api(directory, "RoundRobin"), 6);
        var first = picks[0];
        var second = first == a.Id ? b.Id : a.Id;
        Assert.Equal([first, second, first, second, first, second], picks);
    }

    [Fact]
    public async Task RandomUsesEveryServer()
    {
        var (a, b) = (Start("rnd-a"), Start("rnd-b"));
        var directory = new TestServerDirectory();
        directory.Set(a.Registration, b.Registration);
        // 40 fair coin flips all landing on one side: 2^-39.
        var picks = await LoginManyAsync(Api(directory, "Random"), 40);
        Assert.Contains(a.Id, picks);
        Assert.Contains(b.Id, picks);
    }

    [Fact]
    public async Task LeastConnectionsFollowsTheReportedLoad()
    {
        var (a, b) = (Start("lc-a"), Start("lc-b"));
        var directory = new TestServerDirectory();
        directory.Set(a.Registration, b.Registration);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.Redis.ConnectionString);
        await redis.GetDatabase().HashSetAsync(RedisKeys.ServerLoad, [new HashEntry(a.Id, 1_000), new HashEntry(b.Id, 10)]);

        var http = Api(directory, "LeastConnections");
        Assert.All(await LoginManyAsync(http, 5), id => Assert.Equal(b.Id, id));

        await redis.GetDatabase().HashSetAsync(RedisKeys.ServerLoad, [new HashEntry(a.Id, 0), new HashEntry(b.Id, 1_000)]);
        Assert.All(await LoginManyAsync(http, 3), id => Assert.Equal(a.Id, id));
    }

    [Fact]
    public async Task AServerThatDoesNotAnswerIsSkippedAndTheSessionRecordsTheServerReturned()
    {
        var live = Start("live");
        var directory = new TestServerDirectory();
        var http = Api(directory, "RoundRobin");
        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.Redis.ConnectionString);
        var codec = new AccessTokenCodec(RouteApiFactory.TokenKey);

        // Dead servers first in id order, so round robin chooses one of them first on every login.
        directory.Set(FakeImServer.Dead("aaa-dead-1"), FakeImServer.Dead("aaa-dead-2"), live.Registration);
        for (var i = 0; i < 3; i++)
        {
            var login = await http.NewUserAsync("failover");
            Assert.Equal(live.Id, login.Server.ServerId);
            codec.Validate(login.Token, DateTimeOffset.UtcNow, out var claims);
            Assert.Equal(live.Id, claims!.ServerId);
            Assert.Equal(live.Id, (string?)await redis.GetDatabase().StringGetAsync(RedisKeys.UserSession(login.UserId, claims.SessionId)));
        }
    }

    [Fact]
    public async Task RefreshAvoidsTheServerTheClientCouldNotReachWhenAnotherIsLive()
    {
        var (a, b) = (Start("av-a"), Start("av-b"));
        var directory = new TestServerDirectory();
        directory.Set(a.Registration, b.Registration);
        var http = Api(directory, "ConsistentHash");
        var login = await http.NewUserAsync("avoid");
        var other = login.Server.ServerId == a.Id ? b.Id : a.Id;

        for (var i = 0; i < 3; i++)
        {
            using var refresh = await http.SendAsync(HttpMethod.Post, RouteApiPaths.Refresh, login.Token, new RefreshRequest(login.Server.ServerId));
            Assert.Equal(other, (await refresh.ReadAsync<LoginResponse>()).Server.ServerId);
        }

        // With the other server gone, the avoided one is still better than nothing.
        directory.Set(directory.Servers.Where(s => s.Id == login.Server.ServerId).ToArray());
        using var only = await http.SendAsync(HttpMethod.Post, RouteApiPaths.Refresh, login.Token, new RefreshRequest(login.Server.ServerId));
        Assert.Equal(login.Server.ServerId, (await only.ReadAsync<LoginResponse>()).Server.ServerId);
    }

    [Fact]
    public async Task AServerTooBusyToAcceptIsHandedOutWhenNoneAcceptsButADeadOneNever()
    {
        using var busy = await ServerProbeTests.BusyListener.StartAsync();
        var directory = new TestServerDirectory();
        directory.Set(FakeImServer.Dead("aaa-dead"), busy.Registration);
        var http = Api(directory, "RoundRobin");

        // A refusal would only send every client of a storm into its backoff; the busy server will accept them in time.
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(busy.Registration.Id, (await http.NewUserAsync("busy")).Server.ServerId);
        }

        // One that accepts is preferred to the busy one.
        var live = Start("not-busy");
        directory.Set(FakeImServer.Dead("aaa-dead"), busy.Registration, live.Registration);
        Assert.Equal(live.Id, (await http.NewUserAsync("busy")).Server.ServerId);
    }

    [Fact]
    public async Task NoLiveServerIsA503ProblemForLoginAndRefresh()
    {
        var live = Start("gone");
        var directory = new TestServerDirectory();
        directory.Set(live.Registration);
        var http = Api(directory, "ConsistentHash");
        var login = await http.NewUserAsync("nolive");

        directory.Set();
        using var empty = await http.PostAsJsonAsync(RouteApiPaths.Login, new LoginRequestDto(login.UserName, RouteApiTestExtensions.Password));
        Assert.Contains("No IM server is available", (await empty.AssertProblemAsync(HttpStatusCode.ServiceUnavailable)).Detail());

        directory.Set(FakeImServer.Dead("dead-only"));
        using var dead = await http.PostAsJsonAsync(RouteApiPaths.Login, new LoginRequestDto(login.UserName, RouteApiTestExtensions.Password));
        await dead.AssertProblemAsync(HttpStatusCode.ServiceUnavailable);
        using var refresh = await http.SendAsync(HttpMethod.Post, RouteApiPaths.Refresh, login.Token);
        await refresh.AssertProblemAsync(HttpStatusCode.ServiceUnavailable);
    }
}
