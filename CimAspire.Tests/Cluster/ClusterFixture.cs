using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using CimAspire.Protocol;
using CimAspire.Tests.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CimAspire.Tests.Cluster;

[CollectionDefinition("cluster")]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>;

/// <summary>One IM server replica as Aspire runs it: its resource name (e.g. <c>im-server-abc123</c>) and process id.</summary>
/// <param name="ProcessId">
/// The process Aspire started. For a project that may be a <c>dotnet run</c> host whose child is the service itself,
/// so kill with <see cref="ClusterFixture.KillReplicaAsync"/>, which stops the whole process tree.
/// </param>
public sealed record ReplicaInstance(string ResourceName, int ProcessId);

/// <summary>
/// The whole CimAspire graph (AppHost, local Redis and ZooKeeper, IM server replicas, route API, web client),
/// started once for every integration test in the "cluster" collection, with known keys and its own data folder.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public const int ImServerReplicas = 2;
    public const int RouteReplicas = 2;

    public static readonly TimeSpan StartupTimeout = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan ReplicaTimeout = TimeSpan.FromSeconds(90);

    /// <summary>
    /// The IM servers' heartbeat settings (<c>Cim:ImServer:PingInterval</c>, <c>IdleTimeout</c>): short enough for an
    /// idle-timeout test, long enough that a client that pings as its LoginResult says is never cut on a loaded machine.
    /// </summary>
    public static readonly TimeSpan ImServerPingInterval = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan ImServerIdleTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Every resource of the graph; each must be running and healthy (every replica of it).</summary>
    public static readonly ImmutableArray<string> ResourceNames = ["zookeeper", "redis", "im-server", "route-api", "web-client"];

    private readonly Lock _gate = new();
    private readonly Dictionary<string, ResourceEvent> _states = [];
    private readonly List<TaskCompletionSource> _stateWaiters = [];
    private readonly CancellationTokenSource _stopWatching = new();
    private DistributedApplication? _app;
    private Task _watching = Task.CompletedTask;
    private OtlpReceiver? _telemetry;

    public DistributedApplication App => _app ?? throw new InvalidOperationException("The cluster has not started.");

    /// <summary>The folder Redis and ZooKeeper keep their data in for this run (<c>redis/</c>, <c>zookeeper/</c>).</summary>
    public string DataDirectory { get; } = Path.Combine(Path.GetTempPath(), $"cim-cluster-{Guid.NewGuid():N}");

    /// <summary><c>host:port</c>, as the services receive it in <c>ConnectionStrings__redis</c>.</summary>
    public string RedisConnectionString { get; private set; } = string.Empty;

    /// <summary><c>host:port</c>, as the services receive it in <c>ConnectionStrings__zookeeper</c>.</summary>
    public string ZooKeeperConnectionString { get; private set; } = string.Empty;

    /// <summary>How long the graph took from build to every resource healthy.</summary>
    public TimeSpan StartupTime { get; private set; }

    /// <summary>The shared token key the services were given (AppHost parameter <c>token-key</c>, <c>Cim:TokenKey</c>).</summary>
    public string TokenKey { get; } = $"cim-test-token-{Guid.NewGuid():N}";

    /// <summary>The admin key the services were given (AppHost parameter <c>admin-key</c>, <c>Cim:AdminKey</c>).</summary>
    public string AdminKey { get; } = $"cim-test-admin-{Guid.NewGuid():N}";

    /// <summary>The OTLP collector every project of the graph exports its telemetry to (started before the graph).</summary>
    public OtlpReceiver Telemetry => _telemetry ?? throw new InvalidOperationException("The cluster has not started.");

    public ResourceNotificationService Notifications => App.Services.GetRequiredService<ResourceNotificationService>();

    public async Task InitializeAsync()
    {
        var stopwatch = Stopwatch.StartNew();
        using var timeout = new CancellationTokenSource(StartupTimeout);
        _telemetry = await OtlpReceiver.StartAsync(timeout.Token);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.CimAspire_AppHost>(
            [
                "--Cim:Infrastructure=local",
                $"--Cim:DataDirectory={DataDirectory}",
                $"--Cim:ImServerReplicas={ImServerReplicas}",
                $"--Cim:RouteReplicas={RouteReplicas}",
                $"--Parameters:token-key={TokenKey}",
                $"--Parameters:admin-key={AdminKey}",
                // Every test signs up and logs in from 127.0.0.1: the per-address limits would throttle the suite itself.
                "--Cim:Route:RegisterRateLimit:PermitLimit=100000",
                "--Cim:Route:LoginRateLimit:PermitLimit=100000",
                $"--Cim:ImServer:PingInterval={ImServerPingInterval:c}",
                $"--Cim:ImServer:IdleTimeout={ImServerIdleTimeout:c}",
            ],
            (options, _) => options.DisableDashboard = true,
            timeout.Token);

        // Health probes fail by design until a resource is up, and again while it shuts down; the fixture reports what matters.
        builder.Services.AddLogging(logging => logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.Critical));

        ExportTelemetryTo(builder, _telemetry.Endpoint);

        _app = await builder.BuildAsync(timeout.Token).WaitAsync(timeout.Token);
        _watching = WatchStatesAsync(_stopWatching.Token);
        try
        {
            await _app.StartAsync(timeout.Token).WaitAsync(timeout.Token);
            await WaitUntilAsync(() => ResourceNames.All(AllReplicasHealthy), timeout.Token);
            RedisConnectionString = await _app.GetConnectionStringAsync("redis", timeout.Token) ?? string.Empty;
            ZooKeeperConnectionString = await _app.GetConnectionStringAsync("zookeeper", timeout.Token) ?? string.Empty;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"The cluster was not healthy within {StartupTimeout}: {DescribeStates()}");
        }

        StartupTime = stopwatch.Elapsed;
    }

    /// <summary>
    /// Points every project at the test collector. With the dashboard disabled, Aspire still gives each project the
    /// dashboard's OTLP address from configuration, which the testing builder defaults to <c>http://localhost:4317</c>
    /// (gRPC) where nothing listens. This callback runs after Aspire's own and overrides the endpoint and protocol; the
    /// short batch delay (Aspire's development default is 1 s) lets spans arrive within a test's patience.
    /// </summary>
    private static void ExportTelemetryTo(IDistributedApplicationTestingBuilder builder, Uri collector)
    {
        var endpoint = collector.GetLeftPart(UriPartial.Authority);
        foreach (var project in builder.Resources.OfType<ProjectResource>().ToList())
        {
            builder.CreateResourceBuilder(project).WithEnvironment(context =>
            {
                context.EnvironmentVariables["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint;
                context.EnvironmentVariables["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
                context.EnvironmentVariables["OTEL_BSP_SCHEDULE_DELAY"] = "200";
                context.EnvironmentVariables["OTEL_BLRP_SCHEDULE_DELAY"] = "1000";
                context.EnvironmentVariables["OTEL_TRACES_SAMPLER"] = "always_on";
            });
        }
    }

    /// <summary>An HttpClient for the route API (through Aspire's proxy in front of its replicas).</summary>
    public HttpClient CreateRouteClient() => App.CreateHttpClient("route-api", "http");

    /// <summary>An HttpClient for the web client.</summary>
    public HttpClient CreateWebClient() => App.CreateHttpClient("web-client", "http");

    /// <summary>The IM server replicas as Aspire runs them now; a replica without a process (e.g. killed) is left out.</summary>
    public IReadOnlyList<ReplicaInstance> GetImServerReplicas() => GetReplicas("im-server");

    public IReadOnlyList<ReplicaInstance> GetReplicas(string resourceName) =>
        [.. GetStates(resourceName)
            .Where(current => !KnownResourceStates.TerminalStates.Contains(current.Snapshot.State?.Text))
            .Select(current => (current.ResourceId, Pid: ProcessIdOf(current.Snapshot)))
            .Where(replica => replica.Pid is not null)
            .Select(replica => new ReplicaInstance(replica.ResourceId, replica.Pid!.Value))];

    /// <summary>
    /// The IM server replica running the server with this id. A server id is <c>im-{host}-{pid}-{random}</c>; Aspire
    /// knows the process it started (<c>dotnet run</c>), so walk up from the server's pid to a replica's process.
    /// </summary>
    public ReplicaInstance FindImServerReplica(string serverId)
    {
        var parts = serverId.Split('-');
        if (parts.Length < 4 || !int.TryParse(parts[^2], NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            throw new ArgumentException($"'{serverId}' is not an IM server id of the form im-host-pid-suffix.", nameof(serverId));
        }

        var replicas = GetImServerReplicas();
        for (var current = pid; current > 1; current = ParentProcessOf(current))
        {
            if (replicas.FirstOrDefault(replica => replica.ProcessId == current) is { } replica)
            {
                return replica;
            }
        }

        throw new InvalidOperationException($"No IM server replica runs process {pid}: {string.Join(", ", replicas)}");
    }

    /// <summary>Whether a replica Aspire runs now is the process of this server id (false for a killed one).</summary>
    public bool IsRunningImServer(string serverId)
    {
        try
        {
            FindImServerReplica(serverId);
            return true;
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IOException)
        {
            return false;
        }
    }

    private static int ParentProcessOf(int pid)
    {
        // Linux /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after the last ')'.
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[1], CultureInfo.InvariantCulture);
    }

    /// <summary>Kills a replica abruptly (SIGKILL to its whole process tree) and waits until Aspire sees it stopped.</summary>
    public async Task KillReplicaAsync(string replicaResourceName, CancellationToken cancellationToken = default)
    {
        if (GetState(replicaResourceName) is not { } current || ProcessIdOf(current.Snapshot) is not { } pid)
        {
            throw new InvalidOperationException($"'{replicaResourceName}' has no running process.");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ReplicaTimeout);
        using (var process = Process.GetProcessById(pid))
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(timeout.Token);
        }

        await WaitUntilAsync(
            () => GetState(replicaResourceName) is { } state && KnownResourceStates.TerminalStates.Contains(state.Snapshot.State?.Text),
            timeout.Token);
    }

    /// <summary>
    /// Stops the IM server with this id gracefully, as a process manager does: SIGTERM to the server's own process, then
    /// waits until Aspire sees its replica stopped. (Aspire's stop command sends SIGTERM to the <c>dotnet run</c> host,
    /// which forwards it, but reports failure and kills the host when the service takes more than a few seconds.)
    /// </summary>
    /// <returns>The replica that was stopped, to start again with <see cref="StartReplicaAsync"/>.</returns>
    public async Task<ReplicaInstance> StopImServerAsync(string serverId, CancellationToken cancellationToken = default)
    {
        var replica = FindImServerReplica(serverId);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ReplicaTimeout);
        using (var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", serverId.Split('-')[^2]]) { UseShellExecute = false })!)
        {
            await kill.WaitForExitAsync(timeout.Token);
            if (kill.ExitCode != 0)
            {
                throw new InvalidOperationException($"kill -TERM for {serverId} exited with {kill.ExitCode}.");
            }
        }

        await WaitUntilAsync(
            () => GetState(replica.ResourceName) is { } state && KnownResourceStates.TerminalStates.Contains(state.Snapshot.State?.Text),
            timeout.Token);
        return replica;
    }

    /// <summary>
    /// Starts a stopped replica again through Aspire's start command and waits until it is healthy and, for an IM
    /// server, until the route API lists exactly the running servers: a killed server's registry node lasts until its
    /// ZooKeeper session expires, and the next test must not be routed to it.
    /// </summary>
    public async Task StartReplicaAsync(string replicaResourceName, CancellationToken cancellationToken = default)
    {
        var commands = App.Services.GetRequiredService<ResourceCommandService>();
        var result = await commands.ExecuteCommandAsync(replicaResourceName, KnownResourceCommands.StartCommand, cancellationToken)
            .WaitAsync(ReplicaTimeout, cancellationToken);
        if (!result.Success)
        {
            throw new InvalidOperationException($"Starting '{replicaResourceName}' failed: {result.Message}");
        }

        await WaitUntilReplicaHealthyAsync(replicaResourceName, cancellationToken);
        if (GetImServerReplicas().Any(replica => replica.ResourceName == replicaResourceName))
        {
            await WaitUntilRouteListsImServersAsync(ImServerReplicas, cancellationToken);
        }
    }

    /// <summary>
    /// Waits (at most <see cref="ReplicaTimeout"/>) until the route API's registry view holds <paramref name="count"/> IM
    /// servers, each of them a running replica: a killed server stays registered until its ZooKeeper session expires, so
    /// the count alone can be met while a dead server is still listed and its restarted successor is not yet.
    /// </summary>
    public async Task WaitUntilRouteListsImServersAsync(int count, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ReplicaTimeout);
        using var http = CreateRouteClient();
        while (true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, RouteApiPaths.AdminCluster);
            request.Headers.Add("X-Admin-Key", AdminKey);
            using var response = await http.SendAsync(request, timeout.Token);
            if (response.IsSuccessStatusCode
                && await response.Content.ReadFromJsonAsync<ClusterOverviewDto>(timeout.Token) is { } overview
                && overview.Servers.Count == count
                && overview.Servers.All(server => IsRunningImServer(server.ServerId)))
            {
                return;
            }

            await Task.Delay(200, timeout.Token);
        }
    }

    /// <summary>Waits (at most <see cref="ReplicaTimeout"/>) until one replica, by its resource name, is running and healthy.</summary>
    public async Task WaitUntilReplicaHealthyAsync(string replicaResourceName, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ReplicaTimeout);
        await WaitUntilAsync(() => GetState(replicaResourceName) is { } state && IsHealthy(state.Snapshot), timeout.Token);
    }

    /// <summary>Waits (at most <see cref="ReplicaTimeout"/>) until every replica of a resource is running and healthy.</summary>
    public async Task WaitUntilHealthyAsync(string resourceName, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ReplicaTimeout);
        await WaitUntilAsync(() => AllReplicasHealthy(resourceName), timeout.Token);
    }

    /// <summary>The latest state of every replica of a resource, as Aspire reported it.</summary>
    public IReadOnlyList<ResourceEvent> GetStates(string resourceName)
    {
        lock (_gate)
        {
            return [.. _states.Values.Where(e => e.Resource.Name == resourceName).OrderBy(e => e.ResourceId, StringComparer.Ordinal)];
        }
    }

    public IResource GetResource(string resourceName) =>
        App.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == resourceName);

    public static bool IsHealthy(CustomResourceSnapshot snapshot) =>
        snapshot.State?.Text == KnownResourceStates.Running && snapshot.HealthStatus == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy;

    public async Task DisposeAsync()
    {
        await _stopWatching.CancelAsync();
        await _watching.WaitAsync(TimeSpan.FromSeconds(10));
        _stopWatching.Dispose();
        if (_app is not null)
        {
            try
            {
                await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(60));
            }
            finally
            {
                await _app.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
            }
        }

        if (_telemetry is not null)
        {
            await _telemetry.DisposeAsync();
        }

        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    /// <summary>Completes when <paramref name="condition"/> holds, re-checking on every resource state change.</summary>
    public async Task WaitUntilAsync(Func<bool> condition, CancellationToken cancellationToken)
    {
        while (true)
        {
            var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gate)
            {
                if (condition())
                {
                    return;
                }

                _stateWaiters.Add(changed);
            }

            await changed.Task.WaitAsync(cancellationToken);
        }
    }

    private ResourceEvent? GetState(string replicaResourceName)
    {
        lock (_gate)
        {
            return _states.GetValueOrDefault(replicaResourceName);
        }
    }

    private bool AllReplicasHealthy(string resourceName)
    {
        var states = GetStates(resourceName);
        return states.Count == GetResource(resourceName).GetReplicaCount() && states.All(e => IsHealthy(e.Snapshot));
    }

    private async Task WatchStatesAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var resourceEvent in Notifications.WatchAsync(cancellationToken))
            {
                TaskCompletionSource[] waiters;
                lock (_gate)
                {
                    _states[resourceEvent.ResourceId] = resourceEvent;
                    waiters = [.. _stateWaiters];
                    _stateWaiters.Clear();
                }

                foreach (var waiter in waiters)
                {
                    waiter.TrySetResult();
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private static int? ProcessIdOf(CustomResourceSnapshot snapshot) =>
        snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value switch
        {
            int pid => pid,
            long pid => (int)pid,
            string text when int.TryParse(text, out var pid) => pid,
            _ => null,
        };

    private string DescribeStates() =>
        string.Join("; ", ResourceNames.SelectMany(GetStates).Select(e => $"{e.ResourceId}={e.Snapshot.State?.Text}/{e.Snapshot.HealthStatus}"));
}
