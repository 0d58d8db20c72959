using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CimAspire.Benchmarks.Results;

/// <summary>All results of one invocation, with the machine they were measured on.</summary>
public sealed class BenchmarkReport
{
    public DateTimeOffset StartedAt { get; init; } = DateTimeOffset.UtcNow;
    public string Machine { get; init; } = DescribeMachine();
    public bool Quick { get; init; }
    public string Target { get; init; } = "local";
    public List<ScenarioResult> Results { get; init; } = [];
    /// <summary>CimAspire transient relay throughput divided by the SignalR hub's, when both ran.</summary>
    public double? SignalRRatio
    {
        get
        {
            var cim = Results.FirstOrDefault(r => r.Scenario == Cli.ScenarioNames.Transient && r.System == "cimaspire" && r.Failure is null);
            var hub = Results.FirstOrDefault(r => r.Scenario == Cli.ScenarioNames.Transient && r.System == "signalr" && r.Failure is null);
            return cim is not null && hub is { PerSecond: > 0 } ? cim.PerSecond / hub.PerSecond : null;
        }
    }

    public bool Passed => Results.Count > 0 && Results.All(r => r.Passed);

    public static string DescribeMachine()
    {
        var cpu = "unknown CPU";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        }
        catch (IOException)
        {
        }

        return $"{Environment.ProcessorCount} cores ({cpu}), {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}";
    }

    public string ToTable()
    {
        var rows = new List<string[]>
        {
            new[] { "scenario", "system", "conns", "rate", "p50 ms", "p99 ms", "p99.9 ms", "server CPU", "server peak RSS", "errors", "completeness" },
        };
        foreach (var r in Results)
        {
            var servers = r.Processes;
            rows.Add(
            [
                r.Scenario,
                r.System,
                r.Parameters.TryGetValue("connections", out var c) ? c : "",
                r.Failure is null ? $"{Format(r.PerSecond)} {r.Unit}/s" : "FAILED",
                r.Latency is { Count: > 0 } l ? l.P50Ms.ToString("0.00", CultureInfo.InvariantCulture) : "",
                r.Latency is { Count: > 0 } l2 ? l2.P99Ms.ToString("0.00", CultureInfo.InvariantCulture) : "",
                r.Latency is { Count: > 0 } l3 ? l3.P999Ms.ToString("0.00", CultureInfo.InvariantCulture) : "",
                string.Join(" ", servers.Select(p => $"{p.Name}:{p.CpuPercentOfOneCore:0}%")),
                string.Join(" ", servers.Select(p => $"{p.Name}:{p.PeakRssBytes / (1024.0 * 1024):0}MB")),
                r.Errors.ToString(CultureInfo.InvariantCulture),
                r.Completeness is null ? "n/a" : r.Completeness.IsComplete ? "ok" : "FAILED",
            ]);
        }

        var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(row => row[i].Length)).ToArray();
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Machine}");
        for (var i = 0; i < rows.Count; i++)
        {
            sb.AppendLine(string.Join(" | ", rows[i].Select((cell, col) => cell.PadRight(widths[col]))).TrimEnd());
            if (i == 0)
            {
                sb.AppendLine(string.Join("-|-", widths.Select(w => new string('-', w))));
            }
        }

        if (SignalRRatio is { } ratio)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"Transient relay vs SignalR MessagePack hub, same run: {ratio:0.00}x");
        }

        foreach (var r in Results)
        {
            var details = new List<string>();
            if (r.Failure is not null)
            {
                details.Add($"failed: {r.Failure}");
            }

            if (r.Completeness is { } c)
            {
                details.Add(c.Describe() + (c.Redelivered > 0 ? $"; {c.Redelivered} redelivered copies dropped by sequence" : "")
                    + (c.Unconfirmed > 0 ? $"; {c.Unconfirmed} sends unconfirmed ({c.UnconfirmedDelivered} of their deliveries arrived)" : "")
                    + (c.Refused > 0 ? $"; {c.Refused} sends refused" : "")
                    + (c.ReorderedByRetry > 0 ? $"; {c.ReorderedByRetry} arrived after later ones because their first send failed and was retried" : ""));
            }

            details.AddRange(r.Metrics.Select(m => $"{m.Key} = {Format(m.Value)}"));
            details.AddRange(r.ErrorCounts.Select(e => $"error {e.Key}: {e.Value}"));
            details.AddRange(r.Notes);
            if (details.Count > 0)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"[{r.Scenario}/{r.System}]");
                foreach (var d in details)
                {
                    sb.AppendLine(CultureInfo.InvariantCulture, $"  - {d}");
                }
            }
        }

        sb.AppendLine(Passed ? "RESULT: every scenario ran; nothing lost, duplicated or reordered." : "RESULT: FAILED (see above).");
        return sb.ToString();
    }

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private static string Format(double value) => value switch
    {
        >= 1_000_000 => (value / 1_000_000).ToString("0.00", CultureInfo.InvariantCulture) + "M",
        >= 10_000 => (value / 1_000).ToString("0.0", CultureInfo.InvariantCulture) + "k",
        _ => value.ToString("0.##", CultureInfo.InvariantCulture),
    };
}
