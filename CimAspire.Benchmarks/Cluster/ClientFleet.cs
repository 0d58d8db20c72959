using System.Collections.Concurrent;
using System.Net;
using CimAspire.Benchmarks.Wire;
using CimAspire.Protocol;

namespace CimAspire.Benchmarks.Cluster;

/// <summary>One simulated user: its account and its protocol-level connection.</summary>
public sealed class BenchClient(BenchUser user, WireConnection connection)
{
    public BenchUser User { get; set; } = user;

    public WireConnection Connection { get; set; } = connection;

    public long UserId => User.UserId;

    public string ServerId => User.Server.ServerId;
}

/// <summary>
/// Creates users and connects them: accounts through the route API; tokens from the route API's login, or minted
/// with the cluster's token key when the harness knows it (so 100,000 users need no 100,000 password checks and a
/// scenario can put everyone on the server it wants).
/// </summary>
public static class ClientFleet
{
    public static readonly TimeSpan LoginTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Registers <paramref name="count"/> accounts and logs them in through the route API.</summary>
    public static Task<BenchUser[]> LoginThroughRouteAsync(RouteApiClient route, string scenario, int count, CancellationToken cancellationToken) =>
        UserProvisioner.CreateAsync(route, UserProvisioner.RunPrefix(scenario), count, parallelism: 16, cancellationToken);

    /// <summary>
    /// Accounts through the route API, then tokens for <paramref name="server"/> minted with the key
    /// (or, without a key, the route API's own pick for each user).
    /// </summary>
    public static async Task<BenchUser[]> UsersOnServerAsync(
        RouteApiClient route, string? tokenKey, string scenario, int count, ServerEndpointDto? server, CancellationToken cancellationToken)
    {
        if (tokenKey is null)
        {
            return await LoginThroughRouteAsync(route, scenario, count, cancellationToken);
        }

        var prefix = UserProvisioner.RunPrefix(scenario);
        var first = await UserProvisioner.CreateAsync(route, prefix + "a", 1, 1, cancellationToken);
        server ??= first[0].Server;
        var codec = new AccessTokenCodec(tokenKey);
        var users = new BenchUser[count];
        users[0] = first[0] with { Token = Mint(codec, first[0].UserId, first[0].UserName, server.ServerId), Server = server };
        await Parallel.ForAsync(1, count, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            var name = $"{prefix}{i}";
            var account = await route.RegisterAsync(name, UserProvisioner.Password, ct);
            users[i] = new BenchUser(account.UserId, account.UserName, UserProvisioner.Password, Mint(codec, account.UserId, account.UserName, server.ServerId), server);
        });
        return users;
    }

    public static string Mint(AccessTokenCodec codec, long userId, string userName, string serverId) =>
        codec.Issue(new AccessTokenClaims(userId, userName, serverId, "bench-" + Guid.NewGuid().ToString("N"), DateTimeOffset.UtcNow.AddHours(2).ToUnixTimeSeconds()));

    /// <summary>The loopback source address for the i-th connection, over <paramref name="addresses"/> addresses (127.0.0.1 upwards).</summary>
    public static IPAddress? SourceAddress(int index, int addresses) =>
        addresses <= 1 ? null : new IPAddress([127, 0, 0, (byte)(1 + (index % addresses))]);

    /// <summary>Connects and logs every user in, <paramref name="parallelism"/> at a time; frames go to <paramref name="onFrame"/>.</summary>
    public static async Task<BenchClient[]> ConnectAsync(
        IReadOnlyList<BenchUser> users,
        Func<int, Action<Envelope>?>? onFrame,
        int addresses,
        int parallelism,
        CancellationToken cancellationToken)
    {
        var clients = new BenchClient[users.Count];
        try
        {
            await Parallel.ForAsync(0, users.Count, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken }, async (i, ct) =>
            {
                var connection = await WireConnection.ConnectAndLoginAsync(
                    users[i].Endpoint, SourceAddress(i, addresses), users[i].Token, "bench", LoginTimeout, ct);
                connection.FrameReceived = onFrame?.Invoke(i);
                clients[i] = new BenchClient(users[i], connection);
            });
        }
        catch
        {
            await DisposeAllAsync(clients);
            throw;
        }

        return clients;
    }

    public static async Task DisposeAllAsync(IEnumerable<BenchClient?> clients)
    {
        foreach (var c in clients)
        {
            if (c is not null)
            {
                await c.Connection.DisposeAsync();
            }
        }
    }
}
