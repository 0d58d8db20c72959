using System.Collections.Concurrent;
using CimAspire.Delivery.Routes;
using CimAspire.ZooKeeper.Registry;

namespace CimAspire.Route.Selection;

/// <summary>Connections per server as the IM servers last reported them.</summary>
public interface IServerLoadSource
{
    Task<IReadOnlyDictionary<string, long>> GetConnectionsAsync(CancellationToken cancellationToken);
}

/// <summary>The load the IM servers report through the delivery core (<see cref="RouteStore.GetLoadsAsync"/>).</summary>
public sealed class ReportedServerLoad(RouteStore routes) : IServerLoadSource
{
    public async Task<IReadOnlyDictionary<string, long>> GetConnectionsAsync(CancellationToken cancellationToken) =>
        (await routes.GetLoadsAsync(cancellationToken)).ToDictionary(e => e.Key, e => (long)e.Value, StringComparer.Ordinal);
}

/// <summary>
/// The eligible server with the fewest connections. Reports lag behind logins, so the users this replica sent to a server
/// since the last change of its report are counted too; otherwise a login burst would all land on the one emptiest server.
/// Equal loads are broken by a per-user hash (rendezvous), which spreads a burst over all equally loaded servers.
/// A server that has not reported yet counts as empty.
/// </summary>
public sealed class LeastConnectionsStrategy(IServerLoadSource loadSource) : IServerSelectionStrategy
{
    private readonly ConcurrentDictionary<string, Pending> _pending = new(StringComparer.Ordinal);

    public async ValueTask<ServerRegistration?> PickAsync(
        IReadOnlyList<ServerRegistration> servers, long userId, IReadOnlySet<string> excluded, CancellationToken cancellationToken)
    {
        var eligible = servers.Eligible(excluded);
        if (eligible.Count == 0)
        {
            return null;
        }

        var reported = await loadSource.GetConnectionsAsync(cancellationToken);
        ServerRegistration? best = null;
        long bestLoad = 0;
        ulong bestTie = 0;
        foreach (var server in eligible)
        {
            var report = reported.GetValueOrDefault(server.Id);
            var pending = _pending.AddOrUpdate(server.Id, new Pending(report, 0), (_, p) => p.Report == report ? p : new Pending(report, 0));
            var load = report + pending.Assigned;
            var tie = StableHash.Of($"{server.Id}/{userId}");
            if (best is null || load < bestLoad || (load == bestLoad && tie > bestTie))
            {
                (best, bestLoad, bestTie) = (server, load, tie);
            }
        }

        _pending.AddOrUpdate(best!.Id, new Pending(reported.GetValueOrDefault(best.Id), 1), (_, p) => p with { Assigned = p.Assigned + 1 });
        foreach (var gone in _pending.Keys.Where(id => !servers.Any(s => s.Id == id)).ToList())
        {
            _pending.TryRemove(gone, out _);
        }

        return best;
    }

    private sealed record Pending(long Report, long Assigned);
}
