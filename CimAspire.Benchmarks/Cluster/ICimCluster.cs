using CimAspire.Benchmarks.Measurement;

namespace CimAspire.Benchmarks.Cluster;

/// <summary>A running CimAspire cluster as the harness sees it: where to log in, which processes to watch,
/// and (when the harness controls the processes) how to break parts of it for the chaos runs.</summary>
public interface ICimCluster : IAsyncDisposable
{
    /// <summary>How the harness got the cluster, for the report: "local" or the target URL.</summary>
    string Description { get; }

    Uri RouteUrl { get; }

    /// <summary>The shared token key when the harness knows it (local mode, or --token-key); null otherwise.</summary>
    string? TokenKey { get; }

    /// <summary>The cluster's Redis (host:port) when the harness may seed users there; null otherwise.</summary>
    string? RedisConnectionString { get; }

    /// <summary>The processes whose CPU time and memory the scenarios report (IM servers first).</summary>
    Task<IReadOnlyList<WatchedProcess>> GetProcessesAsync(CancellationToken cancellationToken);

    /// <summary>Fault injection, or null when the harness does not control the processes.</summary>
    IClusterFaults? Faults { get; }
}

/// <summary>The faults the chaos runs inject. Each returns when the fault is in place, not when the cluster recovered.</summary>
public interface IClusterFaults
{
    /// <summary>SIGKILL the IM server with this id; the orchestrator may or may not restart it.</summary>
    Task KillImServerAsync(string serverId, CancellationToken cancellationToken);

    /// <summary>SIGKILL one route API replica.</summary>
    Task KillRouteReplicaAsync(CancellationToken cancellationToken);

    /// <summary>Stops Redis and starts it again on the same port and data.</summary>
    Task RestartRedisAsync(CancellationToken cancellationToken);

    /// <summary>Stops ZooKeeper and starts it again.</summary>
    Task RestartZooKeeperAsync(CancellationToken cancellationToken);

    /// <summary>Makes ZooKeeper expire the session of this IM server (as a long pause would).</summary>
    Task ExpireImServerSessionAsync(string serverId, CancellationToken cancellationToken);

    /// <summary>Brings every killed part back, so the next scenario finds the cluster whole.</summary>
    Task RestoreAsync(CancellationToken cancellationToken);
}
