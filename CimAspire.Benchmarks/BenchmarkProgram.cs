using System.Diagnostics;
using CimAspire.Benchmarks.Cli;
using CimAspire.Benchmarks.Cluster;
using CimAspire.Benchmarks.Results;
using CimAspire.Benchmarks.Scenarios;

namespace CimAspire.Benchmarks;

/// <summary>Parses the options, runs the scenarios in order, prints the table, writes the JSON, and says by its exit
/// code whether everything ran and nothing was lost, duplicated or reordered.</summary>
public static class BenchmarkProgram
{
    public const int ExitPassed = 0;
    public const int ExitFailed = 1;
    public const int ExitBadOptions = 2;

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output)
    {
        BenchmarkOptions options;
        try
        {
            options = OptionsParser.Parse(args);
        }
        catch (OptionsException e)
        {
            await output.WriteLineAsync("error: " + e.Message);
            return ExitBadOptions;
        }

        if (options.ShowHelp)
        {
            await output.WriteLineAsync(OptionsParser.Usage);
            return ExitPassed;
        }

        // Before the cluster starts, so the servers it starts inherit the raised open-file limit too.
        FileLimit.Raise();
        using var timeLimit = new CancellationTokenSource(options.TimeLimit ?? (options.Quick ? TimeSpan.FromMinutes(5) : TimeSpan.FromMinutes(30)));
        using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(timeLimit.Token);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            interrupt.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            var report = await RunAsync(options, ct => ClusterFactory.StartAsync(options, output, ct), output, interrupt.Token);
            return report.Passed ? ExitPassed : ExitFailed;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>The 1-minute load average from /proc/loadavg, or null where there is none.</summary>
    public static double? ReadLoadAverage()
    {
        try
        {
            var text = File.ReadAllText("/proc/loadavg");
            var first = text.Split(' ', 2)[0];
            return double.TryParse(first, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Runs the selected scenarios against the cluster the factory provides (started at most once, on first use).</summary>
    public static async Task<BenchmarkReport> RunAsync(
        BenchmarkOptions options,
        Func<CancellationToken, Task<ICimCluster>> clusterFactory,
        TextWriter output,
        CancellationToken cancellationToken)
    {
        ICimCluster? started = null;
        async Task<ICimCluster> GetCluster(CancellationToken ct) => started ??= await clusterFactory(ct);

        var report = new BenchmarkReport { Quick = options.Quick, Target = options.Target?.ToString() ?? "local" };
        var context = new ScenarioContext(options, GetCluster, output, cancellationToken);
        try
        {
            foreach (var name in options.Scenarios)
            {
                var scenario = ScenarioCatalog.Create(name);
                context.Say($"scenario {name}: starting (load average {ReadLoadAverage()?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"})");
                var watch = Stopwatch.StartNew();
                IReadOnlyList<ScenarioResult> results;
                try
                {
                    results = await scenario.RunAsync(context);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    report.Results.Add(new ScenarioResult { Scenario = name, Failure = "stopped: time limit or interrupt" });
                    break;
                }
                catch (Exception e)
                {
                    results = [new ScenarioResult { Scenario = name, Failure = e.Message }];
                }

                // The machine's load beside each result: the figures mean little on a machine busy with other work.
                var load = ReadLoadAverage();
                foreach (var result in results.Where(_ => load is not null))
                {
                    result.Metrics["load average (1 min) at end"] = load!.Value;
                }

                report.Results.AddRange(results);
                context.Say($"scenario {name}: done in {watch.Elapsed.TotalSeconds:0.0}s");
            }
        }
        finally
        {
            if (started is not null)
            {
                context.Say("stopping the cluster");
                await started.DisposeAsync();
            }
        }

        await output.WriteLineAsync();
        await output.WriteLineAsync(report.ToTable());
        if (options.JsonPath is { } path)
        {
            await File.WriteAllTextAsync(path, report.ToJson(), CancellationToken.None);
            await output.WriteLineAsync($"JSON written to {path}");
        }

        return report;
    }
}
