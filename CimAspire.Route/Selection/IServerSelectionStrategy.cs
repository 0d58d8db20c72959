using CimAspire.ZooKeeper.Registry;

namespace CimAspire.Route.Selection;

/// <summary>Chooses one IM server for a user among the live ones. Implementations are safe to call concurrently.</summary>
public interface IServerSelectionStrategy
{
    /// <summary>
    /// Picks one of <paramref name="servers"/> (ordered by id) that is not in <paramref name="excluded"/>;
    /// null when every server is excluded.
    /// </summary>
    ValueTask<ServerRegistration?> PickAsync(
        IReadOnlyList<ServerRegistration> servers,
        long userId,
        IReadOnlySet<string> excluded,
        CancellationToken cancellationToken);
}

internal static class SelectionExtensions
{
    public static List<ServerRegistration> Eligible(this IReadOnlyList<ServerRegistration> servers, IReadOnlySet<string> excluded)
    {
        var eligible = new List<ServerRegistration>(servers.Count);
        foreach (var server in servers)
        {
            if (!excluded.Contains(server.Id))
            {
                eligible.Add(server);
            }
        }

        return eligible;
    }
}
