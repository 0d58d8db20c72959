using CimAspire.Benchmarks;
using CimAspire.Benchmarks.Cli;
using CimAspire.Benchmarks.Cluster;
using CimAspire.Tests.Cluster;

namespace CimAspire.Tests.Benchmarks;

/// <summary>
/// The harness's --quick run against the cluster the fixture already started: every scenario small, completeness
/// asserted, speed never. The chaos scenarios restore what they break before the next test runs.
/// </summary>
[Collection("cluster")]
public sealed class QuickBenchmarkTests(ClusterFixture fixture)
{
    [Fact]
    public async Task EveryScenarioDeliversEveryAcknowledgedMessageExactlyOnceInOrder()
    {
        // Every scenario: the load scenarios (the transient relay with its SignalR twin) and every chaos run.
        var scenarios = ScenarioNames.Default;
        var options = OptionsParser.Parse(["--quick", "--scenario", string.Join(',', scenarios)]);
        await using var cluster = new AspireCluster(fixture.App, fixture.TokenKey, fixture.RedisConnectionString, owned: false, "test fixture");
        using var output = new StringWriter();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(8));

        var report = await BenchmarkProgram.RunAsync(options, _ => Task.FromResult<ICimCluster>(cluster), output, timeout.Token)
            .WaitAsync(TimeSpan.FromMinutes(9));

        Assert.Equal(scenarios, report.Results.Select(r => r.Scenario).Distinct());
        foreach (var result in report.Results)
        {
            Assert.True(result.Failure is null, $"{result.Scenario}/{result.System} failed: {result.Failure}\n{output}");
            if (result.Completeness is { } completeness)
            {
                Assert.True(completeness.IsComplete, $"{result.Scenario}/{result.System}: {completeness.Describe()}\n{output}");
                Assert.True(completeness.Delivered > 0, $"{result.Scenario}/{result.System} delivered nothing");
            }
        }

        Assert.True(report.Passed, output.ToString());
    }
}
