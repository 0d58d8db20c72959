using System.Collections.Concurrent;
using System.Diagnostics;
using CimAspire.Benchmarks.Cluster;
using CimAspire.Benchmarks.Results;
using CimAspire.Benchmarks.Wire;

namespace CimAspire.Benchmarks.Traffic;

/// <summary>
/// What a client does when its connection drops: ask the route API for a server again with its token (avoiding the one
/// that failed), connect, log in, then sync and retry (<see cref="StoredTraffic.Reattach"/>). Retries with a capped
/// backoff, for a bounded time. Records when each client was back and settled.
/// </summary>
public sealed class Reconnector(StoredTraffic traffic, BenchClient[] clients, UserFactory users, ScenarioResult result, TimeSpan giveUpAfter)
{
    private readonly ConcurrentDictionary<int, long> _backAt = new();
    private readonly ConcurrentDictionary<int, long> _droppedAt = new();
    private readonly List<Task> _loops = [];
    private int _reconnects;

    public int Reconnects => Volatile.Read(ref _reconnects);

    public int Dropped => _droppedAt.Count;

    /// <summary>Clients that dropped and are not back yet.</summary>
    public int Missing => _droppedAt.Keys.Count(k => !_backAt.ContainsKey(k));

    /// <summary>Seconds from <paramref name="since"/> until the last dropped client was back and settled; null while some are missing.</summary>
    public double? SecondsUntilAllBack(long since) =>
        Missing > 0 ? null : _backAt.IsEmpty ? 0 : Stopwatch.GetElapsedTime(since, _backAt.Values.Max()).TotalSeconds;

    public void Watch(CancellationToken cancellationToken)
    {
        for (var i = 0; i < clients.Length; i++)
        {
            var index = i;
            _loops.Add(WatchOneAsync(index, cancellationToken));
        }
    }

    public async Task StopAsync()
    {
        try
        {
            await Task.WhenAll(_loops).WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task WatchOneAsync(int index, CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await clients[index].Connection.Closed.WaitAsync(cancellationToken);
                _droppedAt[index] = Stopwatch.GetTimestamp();
                _backAt.TryRemove(index, out _);
                result.CountError("disconnected");
                var replacement = await ReconnectAsync(clients[index], cancellationToken);
                if (replacement is null)
                {
                    result.CountError("gave up reconnecting");
                    return;
                }

                clients[index] = replacement;
                traffic.Reattach(index, replacement);
                Interlocked.Increment(ref _reconnects);
                var deadline = Stopwatch.GetTimestamp() + (10 * Stopwatch.Frequency);
                while (!traffic.IsSettled(index) && Stopwatch.GetTimestamp() < deadline && replacement.Connection.IsOpen)
                {
                    await Task.Delay(10, cancellationToken);
                }

                _backAt[index] = Stopwatch.GetTimestamp();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task<BenchClient?> ReconnectAsync(BenchClient lost, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(50);
        var avoid = lost.ServerId;
        while (Stopwatch.GetElapsedTime(started) < giveUpAfter && !cancellationToken.IsCancellationRequested)
        {
            try
            {
                var user = await users.RefreshAsync(lost.User, avoid, cancellationToken);
                var connection = await WireConnection.ConnectAndLoginAsync(user.Endpoint, null, user.Token, "bench", ClientFleet.LoginTimeout, cancellationToken);
                return new BenchClient(user, connection);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                result.CountError("reconnect attempt failed: " + e.GetType().Name);
            }

            await Task.Delay(delay + TimeSpan.FromMilliseconds(Random.Shared.Next((int)delay.TotalMilliseconds)), cancellationToken);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 1000));
        }

        return null;
    }
}
