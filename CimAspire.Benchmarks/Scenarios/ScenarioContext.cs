using CimAspire.Benchmarks.Cli;
using CimAspire.Benchmarks.Cluster;

namespace CimAspire.Benchmarks.Scenarios;

/// <summary>What a scenario gets: the options, the cluster (started on first use), a log and the run's cancellation.</summary>
public sealed class ScenarioContext(BenchmarkOptions options, Func<CancellationToken, Task<ICimCluster>> cluster, TextWriter log, CancellationToken cancellationToken)
{
    private Task<ICimCluster>? _cluster;

    public BenchmarkOptions Options { get; } = options;

    public TextWriter Log { get; } = log;

    public CancellationToken CancellationToken { get; } = cancellationToken;

    public Task<ICimCluster> GetClusterAsync() => _cluster ??= cluster(CancellationToken);

    public void Say(string message) => Log.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");
}

/// <summary>One selectable scenario. It returns its results (one per measured system) and never throws for a
/// failure of the system under test: that goes into <see cref="Results.ScenarioResult.Failure"/>.</summary>
public interface IScenario
{
    string Name { get; }

    Task<IReadOnlyList<Results.ScenarioResult>> RunAsync(ScenarioContext context);
}
