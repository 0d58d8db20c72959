using System.Diagnostics;
using CimAspire.Benchmarks.Cli;
using CimAspire.Benchmarks.Cluster;
using CimAspire.Benchmarks.Results;
using CimAspire.Benchmarks.Traffic;
using CimAspire.Protocol;

namespace CimAspire.Benchmarks.Scenarios;

/// <summary>
/// Scenario 2: stored 1:1 messages with the full delivery contract, each sender on one IM server and its recipient
/// on the other: throughput at saturation (windows full), then latency at a fixed rate (5,000 messages/s by default).
/// </summary>
public sealed class PersistedScenario : ClusterScenario
{
    public override string Name => ScenarioNames.Persisted;

    protected override async Task RunAsync(
        ScenarioContext context, ICimCluster cluster, UserFactory users, ScenarioResult result, List<BenchClient> clients, Func<Task> startSampling)
    {
        var o = context.Options;
        var ct = context.CancellationToken;
        var pairs = o.ConnectionsOr(200, 20) / 2;
        var window = o.WindowOr(32, 8);
        var payload = o.PayloadOr(64);
        var duration = o.DurationOr(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1));
        var rate = o.RateOr(5_000, 200);
        long quota = o.Quick ? 40 : long.MaxValue;
        result.Unit = "messages";
        result.Parameters["connections"] = Text(pairs * 2);
        result.Parameters["window"] = Text(window);
        result.Parameters["payload"] = Text(payload);
        result.Parameters["rate"] = Text(rate);

        // Senders on server 0, recipients on server 1 (or wherever the route API puts them without seeding).
        var servers = users.Servers;
        var accounts = await users.CreateUsersAsync(Name, pairs * 2, i => servers[(i % 2) % servers.Count], ct);
        var connected = await ClientFleet.ConnectAsync(accounts, null, 1, 64, ct);
        clients.AddRange(connected);
        var streams = Enumerable.Range(0, pairs).Select(p => new StreamSpec(2 * p, new Target { UserId = accounts[(2 * p) + 1].UserId }, [(2 * p) + 1])).ToList();
        result.Metrics["cross-server pairs"] = streams.Count(s => accounts[s.Sender].Server.ServerId != accounts[s.Recipients[0]].Server.ServerId);

        // Phase 1: saturation.
        var traffic = new StoredTraffic(connected, streams, window, payload, result);
        await startSampling();
        await MeasureWindowedAsync(traffic, quota, duration, waitUntilCaughtUp: false, o.Quick, result, ct);

        // Phase 2: fixed rate on the same conversations, with its own latency figures.
        var operations = traffic.Delivered;
        traffic.Latency = new LatencyRecorder();
        using (var stop = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            traffic.Measuring = true;
            var max = o.Quick ? Math.Min(rate, 200) : (long)(rate * duration.TotalSeconds);
            await Load.StartFixedRate(traffic, rate, max, stop.Token).WaitAsync(duration + TimeSpan.FromSeconds(30), ct);
            traffic.Measuring = false;
            await Tail(traffic, o.Quick, ct);
        }

        result.Metrics["fixed-rate messages"] = traffic.Delivered - operations;
        var fixedRate = traffic.Latency.Summarize();
        result.Metrics[$"fixed-rate p50 ms"] = fixedRate.P50Ms;
        result.Metrics[$"fixed-rate p99 ms"] = fixedRate.P99Ms;
        result.Metrics[$"fixed-rate p99.9 ms"] = fixedRate.P999Ms;
        result.Completeness = traffic.Checker.Verify();
    }

    /// <summary>
    /// Waits for what is still in flight, then one sync round for anything a lost notification left behind: a client
    /// that got no push for a message learns of it only by syncing (the SDK syncs on a gap or a reconnect). A quick
    /// run gives the pushes 3 s before that sync, a full run 15 s.
    /// </summary>
    /// <summary>
    /// The measured phase with full windows: senders run for <paramref name="duration"/> (or until they sent
    /// <paramref name="quota"/>, and with <paramref name="waitUntilCaughtUp"/> until every recipient has it); then the
    /// result gets the time, the deliveries and the latency, after the tail.
    /// </summary>
    internal static async Task MeasureWindowedAsync(
        StoredTraffic traffic, long quota, TimeSpan duration, bool waitUntilCaughtUp, bool quick, ScenarioResult result, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var senders = Load.StartWindowed(traffic, quota, stop.Token);
        var started = Stopwatch.GetTimestamp();
        traffic.Measuring = true;
        if (quota == long.MaxValue)
        {
            await Task.Delay(duration, ct);
        }
        else
        {
            await Task.WhenAll(senders).WaitAsync(TimeSpan.FromSeconds(60), ct);
            if (waitUntilCaughtUp)
            {
                await Load.WaitForAsync(traffic.Checker.AllCaughtUp, TimeSpan.FromSeconds(15), ct);
            }
        }

        await stop.CancelAsync();
        await Task.WhenAll(senders);
        traffic.Measuring = false;
        result.Seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        result.Operations = traffic.Delivered;
        await Tail(traffic, quick, ct);
        result.Latency = traffic.Latency.Summarize();
    }

    internal static async Task Tail(StoredTraffic traffic, bool quick, CancellationToken ct)
    {
        // Acks first (a send still unacknowledged is judged neither way), then deliveries.
        await Load.WaitForAsync(traffic.AllSettled, TimeSpan.FromSeconds(15), ct);
        if (!await Load.WaitForAsync(traffic.Checker.AllCaughtUp, TimeSpan.FromSeconds(quick ? 3 : 15), ct))
        {
            traffic.SyncEverything();
            await Load.WaitForAsync(traffic.Checker.AllCaughtUp, TimeSpan.FromSeconds(15), ct);
        }
    }
}

/// <summary>Scenario 3: one sender to a group whose members are spread over two IM servers; deliveries per second.</summary>
public sealed class FanoutScenario : ClusterScenario
{
    public override string Name => ScenarioNames.Fanout;

    protected override async Task RunAsync(
        ScenarioContext context, ICimCluster cluster, UserFactory users, ScenarioResult result, List<BenchClient> clients, Func<Task> startSampling)
    {
        var o = context.Options;
        var ct = context.CancellationToken;
        var members = o.ConnectionsOr(1_000, 50);
        var window = o.WindowOr(32, 4);
        var payload = o.PayloadOr(64);
        var duration = o.DurationOr(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1));
        long quota = o.Quick ? 20 : long.MaxValue;
        result.Unit = "deliveries";
        result.Parameters["connections"] = Text(members);
        result.Parameters["window"] = Text(window);
        result.Parameters["payload"] = Text(payload);

        var servers = users.Servers;
        var accounts = await users.CreateUsersAsync(Name, members, i => servers[i % servers.Count], ct);
        var groupId = await users.CreateGroupAsync("bench-fanout", accounts, ct);
        var connected = await ClientFleet.ConnectAsync(accounts, null, 1, 64, ct);
        clients.AddRange(connected);
        var traffic = new StoredTraffic(connected, [new StreamSpec(0, new Target { GroupId = groupId }, [.. Enumerable.Range(1, members - 1)])], window, payload, result);
        await startSampling();
        await PersistedScenario.MeasureWindowedAsync(traffic, quota, duration, waitUntilCaughtUp: true, o.Quick, result, ct);
        result.Completeness = traffic.Checker.Verify();
    }
}
