using CimAspire.Benchmarks.Cli;

namespace CimAspire.Benchmarks.Cluster;

public static class ClusterFactory
{
    public static Task<ICimCluster> StartAsync(BenchmarkOptions options, TextWriter log, CancellationToken cancellationToken) =>
        throw new NotSupportedException("Cluster scenarios are not available yet.");
}
