using CimAspire.Benchmarks.Cli;
using CimAspire.Benchmarks.Measurement;

namespace CimAspire.Benchmarks.Cluster;

/// <summary>The cluster of a command-line run: the --target one, or the AppHost graph started in local mode.</summary>
public static class ClusterFactory
{
    public static async Task<ICimCluster> StartAsync(BenchmarkOptions options, TextWriter log, CancellationToken cancellationToken) =>
        options.Target is { } target
            ? new TargetCluster(target, options.TokenKey, options.Redis)
            : await AspireCluster.StartAsync(log, cancellationToken);
}

/// <summary>A cluster someone else runs: the harness only knows its route API (and maybe its token key); no faults.</summary>
public sealed class TargetCluster(Uri routeUrl, string? tokenKey, string? redis) : ICimCluster
{
    public string Description => RouteUrl.ToString();

    public Uri RouteUrl { get; } = routeUrl;

    public string? TokenKey { get; } = tokenKey;

    public string? RedisConnectionString { get; } = redis;

    public IClusterFaults? Faults => null;

    public Task<IReadOnlyList<WatchedProcess>> GetProcessesAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<WatchedProcess>>([]);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
