using System.Net;
using CimAspire.Delivery;
using CimAspire.Delivery.Groups;
using CimAspire.Protocol;
using StackExchange.Redis;

namespace CimAspire.Benchmarks.Cluster;

/// <summary>A user the harness created: who, its current token, and the IM server that token is for.</summary>
public sealed record BenchUser(long UserId, string UserName, string SessionId, string Token, ServerEndpointDto Server)
{
    /// <summary>The reconnect policy of the user's last login or refresh; null for a seeded user not refreshed yet.</summary>
    public ReconnectPolicyDto? Reconnect { get; init; }

    public IPEndPoint Endpoint => ToEndpoint(Server);

    public static IPEndPoint ToEndpoint(ServerEndpointDto server)
    {
        var address = server.Host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(server.Host);
        return new IPEndPoint(address, server.Port);
    }
}

/// <summary>
/// Creates the users, sessions and groups of a scenario. With the cluster's token key and Redis address (local mode,
/// or given), accounts and sessions are written straight to Redis in the route API's format and tokens are minted
/// for the server a scenario wants: 100,000 users need no 100,000 password hashes, and the route API's per-address
/// register limit does not apply. Without them, every user registers and logs in through the route API.
/// Re-logins (reconnect storm, failover) always go through the route API's refresh, as real clients do.
/// </summary>
public sealed class UserFactory : IAsyncDisposable
{
    public const string Password = "bench-password-1";
    private static readonly TimeSpan SessionLifetime = TimeSpan.FromHours(2);
    private readonly ConnectionMultiplexer? _redis;
    private readonly AccessTokenCodec? _codec;
    private readonly string _runPrefix = $"b{Environment.ProcessId % 1000}{Random.Shared.Next(10000):D4}";
    private int _batch;

    private UserFactory(RouteApiClient route, ConnectionMultiplexer? redis, AccessTokenCodec? codec)
    {
        Route = route;
        _redis = redis;
        _codec = codec;
    }

    public RouteApiClient Route { get; }

    /// <summary>Whether users are seeded (and can be placed on a chosen server) rather than created through the route API.</summary>
    public bool Seeds => _redis is not null;

    /// <summary>The reconnect policy the route API hands out (learnt at creation), for users that have not logged in themselves.</summary>
    public ReconnectPolicyDto? ReconnectPolicy { get; private set; }

    /// <summary>The live IM servers, as the route API hands them out (found at creation; at most two are looked for).</summary>
    public IReadOnlyList<ServerEndpointDto> Servers { get; private set; } = [];

    public static async Task<UserFactory> CreateAsync(ICimCluster cluster, CancellationToken cancellationToken)
    {
        var route = new RouteApiClient(cluster.RouteUrl);
        ConnectionMultiplexer? redis = null;
        if (cluster.TokenKey is not null && cluster.RedisConnectionString is not null)
        {
            redis = await ConnectionMultiplexer.ConnectAsync(cluster.RedisConnectionString + ",abortConnect=false");
        }

        var factory = new UserFactory(route, redis, cluster.TokenKey is null ? null : new AccessTokenCodec(cluster.TokenKey));
        await factory.DiscoverServersAsync(cancellationToken);
        return factory;
    }

    /// <summary>Creates <paramref name="count"/> users; <paramref name="place"/> picks each one's server (honoured when seeding).</summary>
    public async Task<BenchUser[]> CreateUsersAsync(string scenario, int count, Func<int, ServerEndpointDto>? place, CancellationToken cancellationToken)
    {
        var prefix = $"{_runPrefix}{scenario[..Math.Min(3, scenario.Length)]}{Interlocked.Increment(ref _batch)}u";
        var users = new BenchUser[count];
        if (_redis is null)
        {
            await Parallel.ForAsync(0, count, Degree(16, cancellationToken), async (i, ct) =>
            {
                var name = $"{prefix}{i}";
                await Route.RegisterAsync(name, Password, ct);
                var login = await Route.LoginAsync(name, Password, ct);
                users[i] = new BenchUser(login.UserId, login.UserName, "", login.Token, login.Server) { Reconnect = login.Reconnect };
            });
            return users;
        }

        var db = _redis.GetDatabase();
        var last = await db.StringIncrementAsync(RedisKeys.UserIdCounter, count);
        var firstId = last - count + 1;
        var created = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var start = 0; start < count; start += 1000)
        {
            var batch = db.CreateBatch();
            var pending = new List<Task>();
            for (var i = start; i < Math.Min(count, start + 1000); i++)
            {
                var userId = firstId + i;
                var name = $"{prefix}{i}";
                var sessionId = "bench" + Guid.NewGuid().ToString("N");
                var server = place?.Invoke(i) ?? Servers[i % Servers.Count];
                // The account as the route API writes it (without a password: seeded users never log in by password).
                pending.Add(batch.HashSetAsync(RedisKeys.User(userId), [new HashEntry("name", name), new HashEntry("created", created)]));
                pending.Add(batch.HashSetAsync(RedisKeys.UserNames, name.ToLowerInvariant(), userId));
                pending.Add(batch.SortedSetAddAsync(RedisKeys.UserNameIndex, name.ToLowerInvariant(), 0));
                pending.Add(batch.StringSetAsync(RedisKeys.UserSession(userId, sessionId), server.ServerId, SessionLifetime));
                users[i] = new BenchUser(userId, name, sessionId, Mint(userId, name, server.ServerId, sessionId), server);
            }

            batch.Execute();
            await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
        }

        return users;
    }

    /// <summary>A fresh token for the same session, for the server the route API picks now (what a reconnecting client does).</summary>
    public async Task<BenchUser> RefreshAsync(BenchUser user, string? avoidServerId, CancellationToken cancellationToken)
    {
        var login = await Route.RefreshAsync(user.Token, avoidServerId, cancellationToken);
        return user with { Token = login.Token, Server = login.Server, Reconnect = login.Reconnect };
    }

    /// <summary>Creates a group owned by the first member, with every member in it (through the delivery core's group store).</summary>
    public async Task<long> CreateGroupAsync(string name, IReadOnlyList<BenchUser> members, CancellationToken cancellationToken)
    {
        if (_redis is null)
        {
            var group = await Route.CreateGroupAsync(members[0].Token, name, cancellationToken);
            await Parallel.ForAsync(1, members.Count, Degree(16, cancellationToken), async (i, ct) => await Route.JoinGroupAsync(members[i].Token, group.GroupId, ct));
            return group.GroupId;
        }

        var store = new GroupStore(_redis, TimeProvider.System);
        var info = await store.CreateAsync(name, members[0].UserId, cancellationToken);
        await Parallel.ForAsync(1, members.Count, Degree(32, cancellationToken), async (i, ct) => await store.JoinAsync(info.GroupId, members[i].UserId, ct));
        return info.GroupId;
    }

    public async ValueTask DisposeAsync()
    {
        Route.Dispose();
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }

    private string Mint(long userId, string name, string serverId, string sessionId) =>
        _codec!.Issue(new AccessTokenClaims(userId, name, serverId, sessionId, DateTimeOffset.UtcNow.Add(SessionLifetime).ToUnixTimeSeconds()));

    private async Task DiscoverServersAsync(CancellationToken cancellationToken)
    {
        // One probe user, then ask the route API for a server twice: the second time avoiding the first.
        BenchUser probe;
        if (_redis is null)
        {
            var name = $"{_runPrefix}probe";
            await Route.RegisterAsync(name, Password, cancellationToken);
            var login = await Route.LoginAsync(name, Password, cancellationToken);
            probe = new BenchUser(login.UserId, login.UserName, "", login.Token, login.Server) { Reconnect = login.Reconnect };
        }
        else
        {
            Servers = [new ServerEndpointDto("", "127.0.0.1", 0)];
            probe = (await CreateUsersAsync("probe", 1, null, cancellationToken))[0];
            probe = await RefreshAsync(probe, null, cancellationToken);
        }

        // A server restarted by the previous scenario may take a few seconds to register: ask again for a while.
        var servers = new List<ServerEndpointDto> { probe.Server };
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (servers.Count < 2 && DateTime.UtcNow < deadline)
        {
            var other = await RefreshAsync(probe, probe.Server.ServerId, cancellationToken);
            if (other.Server.ServerId != probe.Server.ServerId)
            {
                servers.Add(other.Server);
            }
            else
            {
                await Task.Delay(500, cancellationToken);
            }
        }

        Servers = servers;
        ReconnectPolicy = probe.Reconnect;
    }

    private static ParallelOptions Degree(int degree, CancellationToken cancellationToken) =>
        new() { MaxDegreeOfParallelism = degree, CancellationToken = cancellationToken };
}
