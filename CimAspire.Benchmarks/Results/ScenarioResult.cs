using System.Collections.Concurrent;
using CimAspire.Benchmarks.Completeness;
using CimAspire.Benchmarks.Measurement;

namespace CimAspire.Benchmarks.Results;

/// <summary>The figures of one scenario run. Built by the scenario, printed and written as JSON by the report.</summary>
public sealed class ScenarioResult
{
    public required string Scenario { get; init; }
    /// <summary>What was measured: "cimaspire" or "signalr".</summary>
    public string System { get; init; } = "cimaspire";
    public Dictionary<string, string> Parameters { get; init; } = [];
    public double Seconds { get; set; }
    /// <summary>Messages, deliveries, reconnects or connections counted during <see cref="Seconds"/>.</summary>
    public long Operations { get; set; }
    public string Unit { get; set; } = "messages";
    public double PerSecond => Seconds > 0 ? Operations / Seconds : 0;
    public LatencySummary? Latency { get; set; }
    public List<ProcessUsage> Processes { get; init; } = [];
    public long Errors => ErrorCounts.Values.Sum();
    public ConcurrentDictionary<string, long> ErrorCounts { get; init; } = new();
    public CompletenessReport? Completeness { get; set; }
    /// <summary>Scenario-specific figures, e.g. bytes per connection or seconds until everyone was back.</summary>
    public Dictionary<string, double> Metrics { get; init; } = [];
    /// <summary>What a user would have noticed, and anything that kept the run from its full size.</summary>
    public List<string> Notes { get; init; } = [];
    /// <summary>Set when the scenario could not run to its end.</summary>
    public string? Failure { get; set; }

    public bool Passed => Failure is null && (Completeness?.IsComplete ?? true);

    public void CountError(string kind) => ErrorCounts.AddOrUpdate(kind, 1, (_, n) => n + 1);
}
