using System.Diagnostics;
using CimAspire.Benchmarks.Cli;
using CimAspire.Benchmarks.Cluster;
using CimAspire.Benchmarks.Measurement;
using CimAspire.Benchmarks.Results;
using CimAspire.Benchmarks.Wire;

namespace CimAspire.Benchmarks.Scenarios;

/// <summary>
/// Scenario 4: N authenticated idle connections on one IM server, spread over loopback source addresses, pinging as
/// the server asks; the server's resident memory growth divided by N. Every connection must still be open at the end.
/// </summary>
public sealed class IdleDensityScenario : ClusterScenario
{
    public override string Name => ScenarioNames.Idle;

    protected override async Task RunAsync(
        ScenarioContext context, ICimCluster cluster, UserFactory users, ScenarioResult result, List<BenchClient> clients, Func<Task> startSampling)
    {
        var o = context.Options;
        var ct = context.CancellationToken;
        var wanted = o.ConnectionsOr(100_000, 200);
        var limit = FileLimit.Raise();
        var count = (int)Math.Min(wanted, Math.Max(2, limit - 2_000));
        if (count < wanted)
        {
            result.Notes.Add($"ran {count} connections, not {wanted}: this process may open {limit} files");
        }

        var addresses = o.LoopbackAddresses ?? Math.Max(1, (count / 25_000) + 1);
        var hold = o.DurationOr(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(2));
        result.Unit = "connections";
        result.Parameters["connections"] = Text(count);
        result.Parameters["addresses"] = Text(addresses);

        var server = users.Servers[0];
        var processes = await cluster.GetProcessesAsync(ct);
        var serverProcess = processes.FirstOrDefault(p => p.Name.StartsWith(AspireCluster.ImServerResource, StringComparison.Ordinal)
            && cluster is AspireCluster a && a.FindImServerByPort(server.Port) is { } r && ProcessTree.Service(r.Pid) == p.ProcessId);
        var before = serverProcess is null ? null : ProcessSampler.ReadRss(serverProcess.ProcessId);

        var accounts = await users.CreateUsersAsync(Name, count, _ => server, ct);
        await startSampling();
        var started = Stopwatch.GetTimestamp();

        // The first connections also pay for what any server allocates once under load (JIT, buffer pools, thread-pool
        // threads, GC budgets). Memory is read again after them, so the growth per connection can be given both with
        // and without that one-off cost.
        var warmUp = count >= 2_000 ? Math.Min(1_000, count / 10) : 0;
        var connected = new List<BenchClient>(count);
        connected.AddRange(await ClientFleet.ConnectAsync(accounts.Take(warmUp).ToList(), null, addresses, 256, ct));
        clients.AddRange(connected);
        var afterWarmUp = serverProcess is null || warmUp == 0 ? null : ProcessSampler.ReadRss(serverProcess.ProcessId);
        var rest = await ClientFleet.ConnectAsync(accounts.Skip(warmUp).ToList(), null, addresses, 256, ct);
        connected.AddRange(rest);
        clients.AddRange(rest);
        result.Seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        result.Metrics["connect+login per second"] = count / result.Seconds;

        // Held for the holding time; each connection pings as the server asked at login (WireConnection's heartbeat).
        await Task.Delay(hold, ct);

        var open = connected.Count(c => c.Connection.IsOpen);
        result.Operations = open;
        result.Metrics["open at the end"] = open;
        if (open < count)
        {
            result.Failure = $"{count - open} of {count} idle connections were closed by the server";
        }

        if (serverProcess is not null && before is { } b && ProcessSampler.ReadRss(serverProcess.ProcessId) is { } after)
        {
            result.Metrics["server RSS growth bytes per connection"] = (after - b) / (double)count;
            if (afterWarmUp is { } w)
            {
                result.Metrics[$"server RSS growth bytes per connection after the first {warmUp}"] = (after - w) / (double)(count - warmUp);
            }
        }
        else
        {
            result.Notes.Add("the server process is unknown to the harness (target mode): no memory per connection");
        }
    }
}

/// <summary>
/// Scenario 5: N connected clients lose their connections at once; each asks the route API for a server again with its
/// token (refresh), connects and logs in. Reconnects per second from the drop until the last one is in.
/// </summary>
public sealed class ReconnectStormScenario : ClusterScenario
{
    public override string Name => ScenarioNames.Reconnect;

    protected override async Task RunAsync(
        ScenarioContext context, ICimCluster cluster, UserFactory users, ScenarioResult result, List<BenchClient> clients, Func<Task> startSampling)
    {
        var o = context.Options;
        var ct = context.CancellationToken;
        var limit = FileLimit.Raise();
        var wanted = o.ConnectionsOr(10_000, 100);
        // The old connections are closed before the storm, so the clients need one socket each (plus route API calls).
        var count = (int)Math.Min(wanted, Math.Max(2, limit - 4_000));
        if (count < wanted)
        {
            result.Notes.Add($"ran {count} clients, not {wanted}: this process may open {limit} files");
        }

        var addresses = o.LoopbackAddresses ?? Math.Max(1, (count / 20_000) + 1);
        result.Unit = "reconnects";
        result.Parameters["connections"] = Text(count);
        var servers = users.Servers;
        var accounts = await users.CreateUsersAsync(Name, count, i => servers[i % servers.Count], ct);
        var first = await ClientFleet.ConnectAsync(accounts, null, addresses, 256, ct);
        foreach (var c in first)
        {
            await c.Connection.DisposeAsync();
        }

        await startSampling();
        context.Say($"{Name}: {count} clients dropped; reconnecting");
        var started = Stopwatch.GetTimestamp();
        var again = new BenchClient?[count];
        var failures = 0;
        var refreshTimes = new LatencyRecorder();
        var loginTimes = new LatencyRecorder();
        // Up to as many clients in flight as the route client has connections: a real storm has every client at once.
        result.Parameters["in flight"] = Text(RouteApiClient.MaxConnections);
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = RouteApiClient.MaxConnections, CancellationToken = ct }, async (i, token) =>
        {
            try
            {
                var asked = Stopwatch.GetTimestamp();
                var user = await users.RefreshAsync(accounts[i], null, token);
                refreshTimes.RecordSince(asked);
                var connecting = Stopwatch.GetTimestamp();
                var connection = await WireConnection.ConnectAndLoginAsync(
                    user.Endpoint, ClientFleet.SourceAddress(i, addresses), user.Token, "bench", ClientFleet.LoginTimeout, token);
                loginTimes.RecordSince(connecting);
                again[i] = new BenchClient(user, connection);
            }
            catch (Exception e) when (e is not OperationCanceledException || !token.IsCancellationRequested)
            {
                Interlocked.Increment(ref failures);
                result.CountError("reconnect failed: " + RouteApiException.Describe(e));
            }
        });
        result.Seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        result.Metrics["refresh ms mean"] = refreshTimes.MeanMicroseconds / 1000;
        result.Metrics["refresh ms p99"] = refreshTimes.ValueAtPercentile(99) / 1000.0;
        result.Metrics["connect+login ms mean"] = loginTimes.MeanMicroseconds / 1000;
        result.Metrics["connect+login ms p99"] = loginTimes.ValueAtPercentile(99) / 1000.0;
        clients.AddRange(again.Where(c => c is not null)!);
        result.Operations = count - failures;
        if (failures > 0)
        {
            result.Failure = $"{failures} of {count} clients could not reconnect";
        }
    }
}

/// <summary>Raises this process's open-file limit as far as allowed (servers started afterwards inherit it).</summary>
public static partial class FileLimit
{
    private const int RlimitNofile = 7;

    public static long Raise(long wanted = 1_048_576)
    {
        if (!OperatingSystem.IsLinux())
        {
            return 1024;
        }

        var current = new RLimit();
        if (GetRLimit(RlimitNofile, ref current) != 0)
        {
            return 1024;
        }

        var target = new RLimit { Current = (ulong)wanted, Max = Math.Max(current.Max, (ulong)wanted) };
        if (SetRLimit(RlimitNofile, ref target) != 0)
        {
            // Without the privilege to raise the hard limit, take the soft limit up to it.
            target = new RLimit { Current = current.Max, Max = current.Max };
            SetRLimit(RlimitNofile, ref target);
        }

        GetRLimit(RlimitNofile, ref current);
        return (long)current.Current;
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Max;
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "getrlimit")]
    private static partial int GetRLimit(int resource, ref RLimit limit);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "setrlimit")]
    private static partial int SetRLimit(int resource, ref RLimit limit);
}
