using System.Globalization;
using CimAspire.Benchmarks.Cluster;
using CimAspire.Benchmarks.Measurement;
using CimAspire.Benchmarks.Results;

namespace CimAspire.Benchmarks.Scenarios;

/// <summary>What every cluster scenario does around its own work: get the cluster and a user factory, sample the
/// processes, turn an exception into a failed result, and close every connection it opened.</summary>
public abstract class ClusterScenario : IScenario
{
    public abstract string Name { get; }

    public async Task<IReadOnlyList<ScenarioResult>> RunAsync(ScenarioContext context)
    {
        var result = new ScenarioResult { Scenario = Name };
        var ct = context.CancellationToken;
        var clients = new List<BenchClient>();
        ProcessSampler? sampler = null;
        try
        {
            var cluster = await context.GetClusterAsync();
            await using var users = await UserFactory.CreateAsync(cluster, ct);
            result.Parameters["servers"] = users.Servers.Count.ToString(CultureInfo.InvariantCulture);
            if (!users.Seeds)
            {
                result.Notes.Add("users were registered and logged in through the route API (no token key and Redis address known)");
            }

            await RunAsync(context, cluster, users, result, clients, async () =>
            {
                sampler = ProcessSampler.Start(await cluster.GetProcessesAsync(ct));
            });
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            result.Failure = e.Message;
        }
        finally
        {
            if (sampler is not null)
            {
                result.Processes.AddRange(await sampler.StopAsync());
                await sampler.DisposeAsync();
            }

            await ClientFleet.DisposeAllAsync(clients);
        }

        return [result];
    }

    /// <summary>The scenario's work; it adds the clients it opens to <paramref name="clients"/> and calls
    /// <paramref name="startSampling"/> when the measured part begins.</summary>
    protected abstract Task RunAsync(
        ScenarioContext context, ICimCluster cluster, UserFactory users, ScenarioResult result, List<BenchClient> clients, Func<Task> startSampling);

    protected static string Text(double value) => value.ToString(CultureInfo.InvariantCulture);
}
