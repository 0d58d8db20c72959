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

/// <summary>Connects many users at once over protocol-level connections.</summary>
public static class ClientFleet
{
    public static readonly TimeSpan LoginTimeout = TimeSpan.FromSeconds(30);

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
