using CimAspire.Benchmarks;
using CimAspire.Benchmarks.Cli;
using CimAspire.Benchmarks.Cluster;

namespace CimAspire.Tests.Benchmarks;

public class SignalRBaselineTests
{
    [Fact]
    public async Task TheHubRelaysEveryMessageOnceInOrderAndTheReportSaysSo()
    {
        var json = Path.Combine(Path.GetTempPath(), $"cim-bench-{Guid.NewGuid():N}.json");
        try
        {
            var options = OptionsParser.Parse(["--scenario", "signalr", "--quick", "--connections", "6", "--window", "4", "--duration", "500ms", "--json", json]);
            using var output = new StringWriter();
            var report = await BenchmarkProgram.RunAsync(options, NoCluster, output, CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(2));

            var result = Assert.Single(report.Results);
            Assert.Null(result.Failure);
            Assert.Equal("signalr", result.System);
            Assert.NotNull(result.Completeness);
            Assert.True(result.Completeness.IsComplete, result.Completeness.Describe());
            // Quick runs stop each of the 6 senders after 80 messages; all of them must have arrived.
            Assert.Equal(6 * 80, result.Completeness.ExpectedDeliveries);
            Assert.Equal(6 * 80, result.Completeness.Delivered);
            Assert.True(report.Passed);
            // The hub and the harness itself (the load generator) are sampled.
            var hub = Assert.Single(result.Processes, p => p.Name == "signalr-hub");
            Assert.Contains(result.Processes, p => p.Name == "harness");
            Assert.True(hub.PeakRssBytes > 0);
            Assert.Contains("RESULT: every scenario ran", output.ToString(), StringComparison.Ordinal);
            Assert.Contains("\"system\": \"signalr\"", await File.ReadAllTextAsync(json), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(json);
        }
    }

    private static Task<ICimCluster> NoCluster(CancellationToken cancellationToken) =>
        throw new InvalidOperationException("The SignalR baseline needs no cluster.");
}
