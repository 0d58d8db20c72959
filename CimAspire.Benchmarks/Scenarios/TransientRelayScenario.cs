using CimAspire.Benchmarks.Cli;
using CimAspire.Benchmarks.Cluster;
using CimAspire.Benchmarks.Measurement;
using CimAspire.Benchmarks.Relay;
using CimAspire.Benchmarks.Results;

namespace CimAspire.Benchmarks.Scenarios;

/// <summary>
/// Scenario 1: the transient relay (typing-notice kind: relayed, not stored) between paired users on one IM server,
/// then the SignalR hub with the same connections, window and payload, so the ratio comes from one run.
/// </summary>
public sealed class TransientRelayScenario : IScenario
{
    public string Name => ScenarioNames.Transient;

    public async Task<IReadOnlyList<ScenarioResult>> RunAsync(ScenarioContext context)
    {
        var cim = await MeasureCimAspireAsync(context);
        var hub = await SignalRRelayScenario.MeasureAsync(context);
        return [cim, hub];
    }

    private static async Task<ScenarioResult> MeasureCimAspireAsync(ScenarioContext context)
    {
        var size = RelaySize.From(context.Options);
        var result = size.NewResult(ScenarioNames.Transient, "cimaspire");
        var ct = context.CancellationToken;
        BenchClient[] clients = [];
        try
        {
            var cluster = await context.GetClusterAsync();
            await using var factory = await UserFactory.CreateAsync(cluster, ct);
            context.Say($"transient: creating {size.Connections} users");
            var server = factory.Servers[0];
            var users = await factory.CreateUsersAsync(ScenarioNames.Transient, size.Connections, _ => server, ct);
            // Pair users on the same server, like the single SignalR hub: the relay, not the cross-server hop, is measured.
            users = [.. users.GroupBy(u => u.Server.ServerId).SelectMany(g => g.Take(g.Count() & ~1))];
            if (users.Length < 2)
            {
                throw new InvalidOperationException("No two users landed on the same IM server.");
            }

            result.Parameters["servers"] = string.Join(",", users.Select(u => u.Server.ServerId).Distinct());
            clients = await ClientFleet.ConnectAsync(users, null, addresses: 1, parallelism: 32, ct);
            var ids = clients.Select(c => c.UserId).ToArray();
            var endpoints = clients.Select(c => new CimRelayEndpoint(c, ids)).ToArray();
            var processes = await cluster.GetProcessesAsync(ct);
            await using var sampler = ProcessSampler.Start(processes);
            await RelayDriver.RunAsync(endpoints, size.Window, size.Payload, size.Warmup, size.Duration, result, ct, size.MaxPerStream);
            result.Processes.AddRange(await sampler.StopAsync());
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            result.Failure = e.Message;
        }
        finally
        {
            await ClientFleet.DisposeAllAsync(clients);
        }

        return result;
    }
}
