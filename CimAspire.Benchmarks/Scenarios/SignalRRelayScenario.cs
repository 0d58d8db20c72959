using CimAspire.Benchmarks.Cli;
using CimAspire.Benchmarks.Measurement;
using CimAspire.Benchmarks.Relay;
using CimAspire.Benchmarks.Results;
using CimAspire.Benchmarks.SignalR;

namespace CimAspire.Benchmarks.Scenarios;

/// <summary>The SignalR MessagePack hub doing the transient relay's work; on its own with --scenario signalr,
/// or as the second half of the transient scenario.</summary>
public sealed class SignalRRelayScenario : IScenario
{
    public string Name => ScenarioNames.SignalR;

    public async Task<IReadOnlyList<ScenarioResult>> RunAsync(ScenarioContext context) => [await MeasureAsync(context)];

    public static async Task<ScenarioResult> MeasureAsync(ScenarioContext context)
    {
        var size = RelaySize.From(context.Options);
        var result = size.NewResult(ScenarioNames.Transient, "signalr");
        var ct = context.CancellationToken;
        try
        {
            await using var hub = await SignalRRelayServer.StartAsync(ct);
            context.Say($"signalr: hub at {hub.Url}, connecting {size.Connections} clients");
            var endpoints = await SignalRRelayEndpoint.ConnectAsync(hub.Url, size.Connections, ct);
            try
            {
                await using var sampler = ProcessSampler.Start([new WatchedProcess("signalr-hub", hub.ProcessId)]);
                await RelayDriver.RunAsync(endpoints, size.Window, size.Payload, size.Warmup, size.Duration, result, ct, size.MaxPerStream);
                result.Processes.AddRange(await sampler.StopAsync());
            }
            finally
            {
                foreach (var e in endpoints)
                {
                    await e.DisposeAsync();
                }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            result.Failure = e.Message;
        }

        return result;
    }
}

/// <summary>The relay's size, shared by both systems so the comparison is like for like.</summary>
/// <param name="MaxPerStream">Quick runs stop each sender early: they check completeness, and stay under per-user send limits.</param>
public sealed record RelaySize(int Connections, int Window, int Payload, TimeSpan Warmup, TimeSpan Duration, long MaxPerStream)
{
    public static RelaySize From(BenchmarkOptions o) => new(
        o.ConnectionsOr(200, 20) & ~1,
        o.WindowOr(32, 8),
        o.PayloadOr(64),
        o.Quick ? TimeSpan.FromMilliseconds(300) : TimeSpan.FromSeconds(2),
        o.DurationOr(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1)),
        o.Quick ? 80 : long.MaxValue);

    public ScenarioResult NewResult(string scenario, string system) => new()
    {
        Scenario = scenario,
        System = system,
        Unit = "messages",
        Parameters =
        {
            ["connections"] = Connections.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["window"] = Window.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["payload"] = Payload.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["duration"] = Duration.ToString(),
        },
    };
}
