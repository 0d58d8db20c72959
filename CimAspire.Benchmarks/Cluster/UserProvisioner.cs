using System.Collections.Concurrent;
using System.Net;
using CimAspire.Protocol;

namespace CimAspire.Benchmarks.Cluster;

/// <summary>A user the harness logged in through the route API: who, the token, and the IM server picked for it.</summary>
public sealed record BenchUser(long UserId, string UserName, string Password, string Token, ServerEndpointDto Server)
{
    public IPEndPoint Endpoint => ToEndpoint(Server);

    public static IPEndPoint ToEndpoint(ServerEndpointDto server)
    {
        var address = server.Host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(server.Host);
        return new IPEndPoint(address, server.Port);
    }
}

/// <summary>
/// Creates the users of a scenario the way a real client would: register, then log in through the route API.
/// Names carry a per-run prefix, so reruns against one cluster never collide.
/// </summary>
public static class UserProvisioner
{
    public const string Password = "bench-password-1";

    public static async Task<BenchUser[]> CreateAsync(
        RouteApiClient route, string prefix, int count, int parallelism, CancellationToken cancellationToken)
    {
        var users = new BenchUser[count];
        var errors = new ConcurrentQueue<Exception>();
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            var name = $"{prefix}{i}";
            await route.RegisterAsync(name, Password, ct);
            var login = await route.LoginAsync(name, Password, ct);
            users[i] = new BenchUser(login.UserId, login.UserName, Password, login.Token, login.Server);
        });
        return users;
    }

    /// <summary>A short prefix unique to this run: user names must be unique across runs against one cluster.</summary>
    public static string RunPrefix(string scenario) => $"b{Environment.ProcessId % 10000}{scenario[..Math.Min(3, scenario.Length)]}{Random.Shared.Next(100000):D5}u";
}
