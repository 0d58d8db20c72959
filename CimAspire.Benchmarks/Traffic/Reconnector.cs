using System.Collections.Concurrent;
using System.Diagnostics;
using CimAspire.Benchmarks.Cluster;
using CimAspire.Benchmarks.Results;
using CimAspire.Benchmarks.Wire;
using CimAspire.Protocol;

namespace CimAspire.Benchmarks.Traffic;

/// <summary>
/// What a client does when its connection drops, as the SDK does it: wait as the route API's reconnect policy says
/// (<see cref="ReconnectPolicyDto.DelayBefore"/>, the first attempt too), ask the route API for a server again with its
/// token (avoiding the one that failed), connect, log in, then sync and retry (<see cref="StoredTraffic.Reattach"/>).
/// Gives up after a bounded time. Records when each client was back and settled.
/// </summary>
public sealed class Reconnector(StoredTraffic traffic, BenchClient[] clients, UserFactory users, ScenarioResult result, TimeSpan giveUpAfter)
{
    // The SDK's own default, for a cluster whose policy the harness could not learn.
    private static readonly ReconnectPolicyDto FallbackPolicy = new(500, 10_000, 1.0);
    private readonly ConcurrentDictionary<int, long> _backAt = new();
    private readonly ConcurrentDictionary<int, long> _loggedInAt = new();
    private readonly ConcurrentDictionary<int, long> _droppedAt = new();
    private readonly ConcurrentDictionary<int, Settling> _settling = new();
    private readonly List<Task> _loops = [];
    private int _reconnects;

    public int Reconnects => Volatile.Read(ref _reconnects);

    /// <summary>How long each successful refresh at the route API took.</summary>
    public LatencyRecorder RefreshTimes { get; } = new();

    /// <summary>How long each successful connect and login at the IM server took.</summary>
    public LatencyRecorder LoginTimes { get; } = new();

    /// <summary>How long each client took from its login until it was settled (synced, nothing unacknowledged).</summary>
    public LatencyRecorder SettleTimes { get; } = new();

    public int Dropped => _droppedAt.Count;

    /// <summary>Clients that dropped and are not back yet.</summary>
    public int Missing => _droppedAt.Keys.Count(k => !_backAt.ContainsKey(k));

    /// <summary>Seconds from <paramref name="since"/> until the last dropped client was back and settled; null while some are missing.</summary>
    public double? SecondsUntilAllBack(long since) =>
        Missing > 0 ? null : _backAt.IsEmpty ? 0 : Stopwatch.GetElapsedTime(since, _backAt.Values.Max()).TotalSeconds;

    /// <summary>Seconds from <paramref name="since"/> until the last dropped client had logged in again (before its sync).</summary>
    public double? SecondsUntilAllLoggedIn(long since) =>
        Missing > 0 ? null : _loggedInAt.IsEmpty ? 0 : Stopwatch.GetElapsedTime(since, _loggedInAt.Values.Max()).TotalSeconds;

    /// <summary>The median of the seconds from <paramref name="since"/> until each dropped client was back and settled.</summary>
    public double? MedianSecondsUntilBack(long since)
    {
        var back = _backAt.Values.Select(t => Stopwatch.GetElapsedTime(since, t).TotalSeconds).Order().ToList();
        return back.Count == 0 ? null : back[back.Count / 2];
    }

    public void Watch(CancellationToken cancellationToken)
    {
        for (var i = 0; i < clients.Length; i++)
        {
            var index = i;
            _loops.Add(WatchOneAsync(index, cancellationToken));
        }

        _loops.Add(SweepAsync(cancellationToken));
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

                _loggedInAt[index] = Stopwatch.GetTimestamp();
                clients[index] = replacement;
                traffic.Reattach(index, replacement);
                Interlocked.Increment(ref _reconnects);
                var settling = new Settling(replacement, Stopwatch.GetTimestamp() + (10 * Stopwatch.Frequency));
                _settling[index] = settling;
                await settling.Done.Task.WaitAsync(cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    // One loop checks every client that is back but not yet synced, every 10 ms (a poll per client would be thousands
    // of timers a second in the process that also drives the load).
    private async Task SweepAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(10, cancellationToken);
                var now = Stopwatch.GetTimestamp();
                foreach (var (index, settling) in _settling)
                {
                    if (traffic.IsSettled(index) || now >= settling.Deadline || !settling.Client.Connection.IsOpen)
                    {
                        _settling.TryRemove(index, out _);
                        _backAt[index] = now;
                        if (_loggedInAt.TryGetValue(index, out var loggedIn))
                        {
                            SettleTimes.Record((long)Stopwatch.GetElapsedTime(loggedIn, now).TotalMicroseconds);
                        }

                        settling.Done.TrySetResult();
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task<BenchClient?> ReconnectAsync(BenchClient lost, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var policy = lost.User.Reconnect ?? users.ReconnectPolicy ?? FallbackPolicy;
        var avoid = lost.ServerId;
        for (var attempt = 0; Stopwatch.GetElapsedTime(started) < giveUpAfter && !cancellationToken.IsCancellationRequested; attempt++)
        {
            await Task.Delay(policy.DelayBefore(attempt, Random.Shared.NextDouble()), cancellationToken);
            try
            {
                var asked = Stopwatch.GetTimestamp();
                var user = await users.RefreshAsync(lost.User, avoid, cancellationToken);
                RefreshTimes.RecordSince(asked);
                var connecting = Stopwatch.GetTimestamp();
                var connection = await WireConnection.ConnectAndLoginAsync(user.Endpoint, null, user.Token, "bench", ClientFleet.LoginTimeout, cancellationToken);
                LoginTimes.RecordSince(connecting);
                return new BenchClient(user, connection);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                result.CountError("reconnect attempt failed: " + RouteApiException.Describe(e));
            }
        }

        return null;
    }

    private sealed record Settling(BenchClient Client, long Deadline)
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
