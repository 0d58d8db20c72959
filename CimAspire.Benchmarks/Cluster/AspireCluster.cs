using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using CimAspire.Benchmarks.Measurement;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CimAspire.Benchmarks.Cluster;

/// <summary>
/// The real AppHost graph run through Aspire's testing builder in local mode (redis-server and ZooKeeper as
/// executables), like the integration test fixture. It knows every process, so it can also inject the chaos faults.
/// Built either by starting the AppHost itself or around an application someone else started (the test fixture).
/// </summary>
public sealed class AspireCluster : ICimCluster, IClusterFaults
{
    public const string ImServerResource = "im-server";
    public const string RouteResource = "route-api";
    public const string RedisResource = "redis";
    public const string ZooKeeperResource = "zookeeper";
    public const string WebClientResource = "web-client";
    private const string PidProperty = "executable.pid";

    private readonly DistributedApplication _app;
    private readonly bool _owned;
    private readonly ConcurrentDictionary<string, ReplicaState> _replicas = new();
    private readonly CancellationTokenSource _stopWatching = new();
    private readonly Task _watcher;
    private readonly HashSet<string> _stoppedReplicas = [];
    private int _disposed;

    public AspireCluster(DistributedApplication app, string? tokenKey, string? redisConnectionString, bool owned, string description = "local")
    {
        _app = app;
        _owned = owned;
        TokenKey = tokenKey;
        RedisConnectionString = redisConnectionString;
        Description = description;
        RouteUrl = app.GetEndpoint(RouteResource, "http");
        _watcher = WatchAsync(_stopWatching.Token);
    }

    public string Description { get; }

    public Uri RouteUrl { get; }

    public string? TokenKey { get; }

    public string? RedisConnectionString { get; }

    /// <summary>A folder of this run that is deleted with the cluster (local mode).</summary>
    public string? OwnedDirectory { get; init; }

    public IClusterFaults Faults => this;

    /// <summary>
    /// The settings local mode changes for load runs: the per-user send rate limit, the per-IP login and register
    /// limits and the password hash cost protect a public deployment; left on, the harness would measure them.
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> LoadSettings { get; } = new Dictionary<string, IReadOnlyDictionary<string, string>>
    {
        [ImServerResource] = new Dictionary<string, string>
        {
            ["Cim__ImServer__SendRatePerSecond"] = "1000000",
            ["Cim__ImServer__SendBurst"] = "1000000",
            ["Cim__ImServer__MaxPendingDeliveries"] = "100000",
            // Nothing collects the spans here; a span per Redis command costs the IM server about a fifth of its CPU.
            ["Aspire__StackExchange__Redis__DisableTracing"] = "true",
            // An information line per login and logout would make the storms measure console logging (in the server
            // and in this process, which receives every line through Aspire); warnings and errors still show.
            ["Logging__LogLevel__Default"] = "Warning",
        },
        [RouteResource] = new Dictionary<string, string>
        {
            ["Cim__Route__PasswordHashIterations"] = "1000",
            ["Cim__Route__RegisterRateLimit__PermitLimit"] = "1000000",
            ["Cim__Route__LoginRateLimit__PermitLimit"] = "1000000",
            ["Logging__LogLevel__Default"] = "Warning",
        },
    };

    public static async Task<AspireCluster> StartAsync(TextWriter log, CancellationToken cancellationToken)
    {
        var tokenKey = Convert.ToHexString(RandomNumberGenerator.GetBytes(24));
        var adminKey = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var dataDirectory = Path.Combine(Path.GetTempPath(), $"cim-bench-{Guid.NewGuid():N}");
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.CimAspire_AppHost>(
            [
                "--Cim:Infrastructure=local",
                $"--Cim:DataDirectory={dataDirectory}",
                "--Cim:ImServerReplicas=2",
                "--Cim:RouteReplicas=2",
                $"--Parameters:token-key={tokenKey}",
                $"--Parameters:admin-key={adminKey}",
            ],
            (options, _) => options.DisableDashboard = true,
            cancellationToken);
        // Health probes fail by design while resources start; the harness reports what matters. The services' console
        // output (forwarded as "<AppHost>.Resources.<name>", stdout as information, stderr as errors) would print a few
        // lines per request and login: the harness would spend its CPU copying logs while it measures.
        builder.Services.AddLogging(logging => logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.Critical)
            .AddFilter("Aspire.Hosting.Dcp", LogLevel.Warning)
            .AddFilter("CimAspire.AppHost.Resources", LogLevel.Warning));
        // The browser front end takes no part in any scenario; it would only take CPU from what is measured.
        foreach (var unused in builder.Resources.Where(r => r.Name == WebClientResource).ToList())
        {
            builder.Resources.Remove(unused);
        }

        foreach (var resource in builder.Resources.OfType<ProjectResource>())
        {
            var resourceBuilder = builder.CreateResourceBuilder(resource);
            // With the dashboard off nothing listens on the OTLP endpoint Aspire hands the services: exporting there
            // would only add failing gRPC calls and retry buffers. Spans and metrics are still created as in production.
            resourceBuilder.WithEnvironment(context => context.EnvironmentVariables.Remove("OTEL_EXPORTER_OTLP_ENDPOINT"));
            if (LoadSettings.TryGetValue(resource.Name, out var settings))
            {
                foreach (var (key, value) in settings)
                {
                    resourceBuilder.WithEnvironment(key, value);
                }
            }
        }

        log.WriteLine($"[{DateTime.Now:HH:mm:ss}] starting the AppHost graph in local mode");
        var app = await builder.BuildAsync(cancellationToken);
        try
        {
            await app.StartAsync(cancellationToken).WaitAsync(TimeSpan.FromMinutes(3), cancellationToken);
            foreach (var name in new[] { RedisResource, ZooKeeperResource, ImServerResource, RouteResource })
            {
                await app.ResourceNotifications.WaitForResourceHealthyAsync(name, cancellationToken).WaitAsync(TimeSpan.FromMinutes(2), cancellationToken);
            }
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        var redis = await app.GetConnectionStringAsync(RedisResource, cancellationToken);
        var cluster = new AspireCluster(app, tokenKey, redis, owned: true) { OwnedDirectory = dataDirectory };
        await cluster.WaitForPidsAsync(cancellationToken);
        return cluster;
    }

    public Task<IReadOnlyList<WatchedProcess>> GetProcessesAsync(CancellationToken cancellationToken)
    {
        var order = new[] { ImServerResource, RouteResource, RedisResource, ZooKeeperResource };
        IReadOnlyList<WatchedProcess> processes = _replicas.Values
            .Where(r => r.Pid > 0 && Array.IndexOf(order, r.ResourceName) >= 0)
            .OrderBy(r => Array.IndexOf(order, r.ResourceName)).ThenBy(r => r.ReplicaId, StringComparer.Ordinal)
            .Select(r => new WatchedProcess(ShortName(r), ProcessTree.Service(r.Pid)))
            .ToList();
        return Task.FromResult(processes);
    }

    /// <summary>The pids of one resource's replicas.</summary>
    public IReadOnlyList<(string ReplicaId, int Pid)> Replicas(string resourceName) =>
        [.. _replicas.Values.Where(r => r.ResourceName == resourceName && r.Pid > 0).Select(r => (r.ReplicaId, r.Pid))];

    public async Task KillImServerAsync(string serverId, CancellationToken cancellationToken)
    {
        var replica = FindImServer(serverId) ?? throw new InvalidOperationException($"No running IM server replica has id {serverId}.");
        await KillAsync(replica, cancellationToken);
    }

    /// <summary>The IM server replica that listens on this port (its registry address), found through /proc.</summary>
    public (string ReplicaId, int Pid)? FindImServerByPort(int port)
    {
        foreach (var (replicaId, pid) in Replicas(ImServerResource))
        {
            if (ProcessSockets.ListensOn(ProcessTree.Service(pid), port))
            {
                return (replicaId, pid);
            }
        }

        return null;
    }

    public Task KillRouteReplicaAsync(CancellationToken cancellationToken)
    {
        var replica = Replicas(RouteResource).FirstOrDefault();
        return replica.Pid == 0 ? throw new InvalidOperationException("No route API replica is running.") : KillAsync(replica, cancellationToken);
    }

    public Task RestartRedisAsync(CancellationToken cancellationToken) => RestartAsync(RedisResource, cancellationToken);

    public Task RestartZooKeeperAsync(CancellationToken cancellationToken) => RestartAsync(ZooKeeperResource, cancellationToken);

    /// <summary>
    /// Freezes the IM server (SIGSTOP) for longer than its ZooKeeper session timeout, then lets it run (SIGCONT): the
    /// server finds its session expired and must register again, exactly what a long GC pause or VM stall does.
    /// </summary>
    public async Task ExpireImServerSessionAsync(string serverId, CancellationToken cancellationToken)
    {
        var replica = FindImServer(serverId) ?? throw new InvalidOperationException($"No running IM server replica has id {serverId}.");
        var service = ProcessTree.Service(replica.Pid);
        ProcessSignals.Send(service, ProcessSignals.SigStop);
        try
        {
            await Task.Delay(SessionExpiryPause, cancellationToken);
        }
        finally
        {
            ProcessSignals.Send(service, ProcessSignals.SigCont);
        }
    }

    /// <summary>How long an IM server is frozen to expire its ZooKeeper session (above the session timeout).</summary>
    public TimeSpan SessionExpiryPause { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The IM servers' port to server id map is not known here; callers resolve ids to ports.</summary>
    public Func<string, int?>? ServerPortResolver { get; set; }

    public async Task RestoreAsync(CancellationToken cancellationToken)
    {
        string[] stopped;
        lock (_stoppedReplicas)
        {
            stopped = [.. _stoppedReplicas];
            _stoppedReplicas.Clear();
        }

        foreach (var replicaId in stopped)
        {
            await _app.ResourceCommands.ExecuteCommandAsync(replicaId, KnownResourceCommands.StartCommand, cancellationToken);
        }

        foreach (var name in new[] { RedisResource, ZooKeeperResource, ImServerResource, RouteResource })
        {
            await _app.ResourceNotifications.WaitForResourceHealthyAsync(name, cancellationToken).WaitAsync(TimeSpan.FromMinutes(2), cancellationToken);
        }

        await WaitForPidsAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        // The runner disposes the cluster it was handed, and so may the owner of a borrowed one.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopWatching.CancelAsync();
        try
        {
            await _watcher;
        }
        catch (OperationCanceledException)
        {
        }

        _stopWatching.Dispose();
        if (_owned)
        {
            try
            {
                await _app.StopAsync().WaitAsync(TimeSpan.FromMinutes(1));
            }
            finally
            {
                await _app.DisposeAsync();
            }
        }

        if (OwnedDirectory is not null && Directory.Exists(OwnedDirectory))
        {
            Directory.Delete(OwnedDirectory, recursive: true);
        }
    }

    private (string ReplicaId, int Pid)? FindImServer(string serverId)
    {
        var port = ServerPortResolver?.Invoke(serverId);
        return port is { } p ? FindImServerByPort(p) : null;
    }

    private async Task KillAsync((string ReplicaId, int Pid) replica, CancellationToken cancellationToken)
    {
        lock (_stoppedReplicas)
        {
            _stoppedReplicas.Add(replica.ReplicaId);
        }

        // The service itself dies as in a crash; a dotnet-run host above it then exits too.
        var service = ProcessTree.Service(replica.Pid);
        ProcessSignals.Send(service, ProcessSignals.SigKill);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        // A killed child stays a zombie until the dotnet-run host above it reaps it: that is dead enough.
        while (ProcessSampler.IsRunning(service) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, cancellationToken);
        }
    }

    private async Task RestartAsync(string resourceName, CancellationToken cancellationToken)
    {
        var replicas = _replicas.Values.Where(r => r.ResourceName == resourceName).Select(r => r.ReplicaId).ToArray();
        if (replicas.Length == 0)
        {
            throw new InvalidOperationException($"The cluster has no {resourceName} resource.");
        }

        foreach (var replicaId in replicas)
        {
            var result = await _app.ResourceCommands.ExecuteCommandAsync(replicaId, KnownResourceCommands.RestartCommand, cancellationToken);
            if (!result.Success)
            {
                throw new InvalidOperationException($"Restarting {replicaId} failed: {result.Message}");
            }
        }
    }

    private async Task WaitForPidsAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var running = _replicas.Values.Where(r => r.ResourceName is ImServerResource or RouteResource).ToList();
            if (running.Count > 0 && running.All(r => r.Pid > 0 && ProcessSampler.ReadCpuTicks(r.Pid) is not null))
            {
                return;
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        await foreach (var e in _app.ResourceNotifications.WatchAsync(cancellationToken))
        {
            var pidValue = e.Snapshot.Properties.FirstOrDefault(p => p.Name == PidProperty)?.Value;
            var pid = pidValue switch
            {
                int i => i,
                long l => (int)l,
                string s when int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) => parsed,
                _ => 0,
            };
            var running = e.Snapshot.State?.Text == KnownResourceStates.Running;
            _replicas[e.ResourceId] = new ReplicaState(e.Resource.Name, e.ResourceId, running ? pid : 0);
        }
    }

    private static string ShortName(ReplicaState r) =>
        r.ReplicaId == r.ResourceName ? r.ResourceName : r.ResourceName + "-" + r.ReplicaId[(r.ReplicaId.LastIndexOf('-') + 1)..];

    private sealed record ReplicaState(string ResourceName, string ReplicaId, int Pid);
}
