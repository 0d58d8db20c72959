using System.Diagnostics;
using CimAspire.Benchmarks.Cli;
using CimAspire.Benchmarks.Cluster;
using CimAspire.Benchmarks.Results;
using CimAspire.Benchmarks.Traffic;
using CimAspire.Protocol;

namespace CimAspire.Benchmarks.Scenarios;

public enum Fault
{
    KillImServer,
    KillRouteReplica,
    RestartRedis,
    RestartZooKeeper,
    ExpireZooKeeperSession,
}

/// <summary>
/// Scenario 6 (failover) and the chaos runs: clients on two IM servers in 1:1 pairs across them, stored messages at a
/// fixed rate, a fault injected a third of the way in, clients reconnecting as the SDK does (refresh with the token,
/// avoiding the failed server; sync; retry unacknowledged sends with the same id). Reports what users noticed
/// (disconnects, refused sends, the worst delay) and checks that nothing acknowledged was lost or shown twice.
/// </summary>
public sealed class FaultScenario(string name, Fault fault, int fullClients, int fullRate) : ClusterScenario
{
    public override string Name => name;

    protected override async Task RunAsync(
        ScenarioContext context, ICimCluster cluster, UserFactory users, ScenarioResult result, List<BenchClient> clients, Func<Task> startSampling)
    {
        var faults = cluster.Faults ?? throw new InvalidOperationException(
            "this scenario breaks parts of the cluster, so the harness must control its processes (local mode or the test fixture)");
        var o = context.Options;
        var ct = context.CancellationToken;
        var count = o.ConnectionsOr(fullClients, 40) & ~1;
        var rate = o.RateOr(fullRate, 100);
        var duration = o.DurationOr(TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(3));
        var payload = o.PayloadOr(64);
        result.Unit = "messages";
        result.Parameters["connections"] = Text(count);
        result.Parameters["rate"] = Text(rate);
        result.Parameters["fault"] = fault.ToString();
        if (users.Servers.Count < 2 && fault is Fault.KillImServer or Fault.ExpireZooKeeperSession)
        {
            throw new InvalidOperationException("this fault needs two IM servers; the route API handed out one");
        }

        var servers = users.Servers;
        if (cluster is AspireCluster aspire)
        {
            aspire.ServerPortResolver = id => servers.FirstOrDefault(s => s.ServerId == id)?.Port;
            if (o.Quick)
            {
                // Just above the IM servers' 10 s ZooKeeper session timeout.
                aspire.SessionExpiryPause = TimeSpan.FromSeconds(11);
            }
        }

        // Pair p: users 2p and 2p+1 on different servers, senders alternating between the servers.
        var accounts = await users.CreateUsersAsync(Name, count, i => servers[((i / 2) + i) % servers.Count], ct);
        var connected = await ClientFleet.ConnectAsync(accounts, null, 1, 128, ct);
        clients.AddRange(connected);
        var streams = Enumerable.Range(0, count / 2).Select(p => new StreamSpec(2 * p, new Target { UserId = accounts[(2 * p) + 1].UserId }, [(2 * p) + 1])).ToList();
        var traffic = new StoredTraffic(connected, streams, window: 1, payload, result);
        using var stopReconnecting = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var reconnector = new Reconnector(traffic, connected, users, result, TimeSpan.FromSeconds(60));
        reconnector.Watch(stopReconnecting.Token);
        var injected = false;
        try
        {
            await startSampling();

            var victim = servers[0];
            var onVictim = accounts.Count(a => a.Server.ServerId == victim.ServerId);
            using var stopLoad = CancellationTokenSource.CreateLinkedTokenSource(ct);
            traffic.Measuring = true;
            var started = Stopwatch.GetTimestamp();
            var load = Load.StartFixedRate(traffic, rate, long.MaxValue, stopLoad.Token);
            await Task.Delay(duration / 3, ct);

            context.Say($"{Name}: injecting {fault}");
            injected = true;
            var faultAt = Stopwatch.GetTimestamp();
            switch (fault)
            {
                case Fault.KillImServer:
                    await faults.KillImServerAsync(victim.ServerId, ct);
                    break;
                case Fault.KillRouteReplica:
                    await faults.KillRouteReplicaAsync(ct);
                    break;
                case Fault.RestartRedis:
                    await faults.RestartRedisAsync(ct);
                    break;
                case Fault.RestartZooKeeper:
                    await faults.RestartZooKeeperAsync(ct);
                    break;
                case Fault.ExpireZooKeeperSession:
                    await faults.ExpireImServerSessionAsync(victim.ServerId, ct);
                    break;
            }

            result.Metrics["fault took seconds"] = Stopwatch.GetElapsedTime(faultAt).TotalSeconds;
            var remaining = (duration * 2 / 3) - Stopwatch.GetElapsedTime(faultAt);
            if (remaining > TimeSpan.Zero)
            {
                await Task.Delay(remaining, ct);
            }

            await stopLoad.CancelAsync();
            await load;
            result.Seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;

            // Everyone back and synced, then the tail.
            await Load.WaitForAsync(() => reconnector.Missing == 0, TimeSpan.FromSeconds(60), ct);
            if (reconnector.SecondsUntilAllBack(faultAt) is { } back)
            {
                result.Metrics["seconds until every dropped client was back and synced"] = back;
                result.Metrics["seconds until every dropped client had logged in again"] = reconnector.SecondsUntilAllLoggedIn(faultAt) ?? 0;
                result.Metrics["median seconds until a dropped client was back and synced"] = reconnector.MedianSecondsUntilBack(faultAt) ?? 0;
            }
            else
            {
                result.Notes.Add($"{reconnector.Missing} clients were still not back after 60 s");
            }

            foreach (var (phase, times) in new[] { ("refresh", reconnector.RefreshTimes), ("connect+login", reconnector.LoginTimes), ("login to synced", reconnector.SettleTimes) })
            {
                if (times.Count > 0)
                {
                    result.Metrics[$"{phase} ms p50"] = times.ValueAtPercentile(50) / 1000.0;
                    result.Metrics[$"{phase} ms max"] = times.MaxMicroseconds / 1000.0;
                }
            }

            await PersistedScenario.Tail(traffic, o.Quick, ct);
            traffic.Measuring = false;
            result.Operations = traffic.Delivered;
            result.Latency = traffic.Latency.Summarize();
            result.Metrics["clients on the failed server"] = fault is Fault.KillImServer or Fault.ExpireZooKeeperSession ? onVictim : 0;
            result.Metrics["clients dropped"] = reconnector.Dropped;
            result.Metrics["reconnects"] = reconnector.Reconnects;
            result.Metrics["sync hints received"] = traffic.SyncHints;
            result.Completeness = traffic.Checker.Verify();
            result.Notes.Add($"users noticed: {reconnector.Dropped} disconnects, {result.Errors} errors, worst send-to-deliver {result.Latency.MaxMs:0} ms");
        }
        finally
        {
            // Stop reconnecting before the base class closes the connections, and leave the cluster whole for what follows.
            await stopReconnecting.CancelAsync();
            await reconnector.StopAsync();
            clients.Clear();
            clients.AddRange(connected);
            if (injected)
            {
                context.Say($"{Name}: restoring the cluster");
                await faults.RestoreAsync(CancellationToken.None);
            }
        }
    }
}
