using CimAspire.ZooKeeper.Registry;

namespace CimAspire.Route.Selection;

/// <summary>Round robin over the eligible servers (per route replica; replicas do not coordinate).</summary>
public sealed class RoundRobinStrategy : IServerSelectionStrategy
{
    private long _next = -1;

    public ValueTask<ServerRegistration?> PickAsync(
        IReadOnlyList<ServerRegistration> servers, long userId, IReadOnlySet<string> excluded, CancellationToken cancellationToken)
    {
        var eligible = servers.Eligible(excluded);
        if (eligible.Count == 0)
        {
            return ValueTask.FromResult<ServerRegistration?>(null);
        }

        var turn = (ulong)Interlocked.Increment(ref _next);
        return ValueTask.FromResult<ServerRegistration?>(eligible[(int)(turn % (ulong)eligible.Count)]);
    }
}

/// <summary>A uniformly random eligible server.</summary>
public sealed class RandomStrategy : IServerSelectionStrategy
{
    public ValueTask<ServerRegistration?> PickAsync(
        IReadOnlyList<ServerRegistration> servers, long userId, IReadOnlySet<string> excluded, CancellationToken cancellationToken)
    {
        var eligible = servers.Eligible(excluded);
        return ValueTask.FromResult(eligible.Count == 0 ? null : eligible[Random.Shared.Next(eligible.Count)]);
    }
}
