using CimAspire.ZooKeeper.Registry;

namespace CimAspire.Route.Selection;

/// <summary>
/// Picks the IM server a user should connect to: the configured strategy over the live servers of the registry,
/// each choice checked with a TCP connect; a server that does not answer is excluded and the strategy asked again.
/// The server returned is the one that answered (CIM recorded the first choice even after failing over). When none
/// accepts but some only timed out (busy: a storm of connects fills its accept queue), the first of those is returned
/// rather than nothing: a refusal would only send every client into its backoff.
/// </summary>
public sealed partial class ServerPicker(
    IServerDirectory directory,
    IServerSelectionStrategy strategy,
    ServerProbe probe,
    ILogger<ServerPicker> logger)
{
    /// <summary>The chosen live server, or null when no registered server answers.</summary>
    /// <param name="avoidServerId">A server the client could not reach; used only when no other server answers.</param>
    public async Task<ServerRegistration?> PickAsync(long userId, string? avoidServerId, CancellationToken cancellationToken)
    {
        var servers = directory.Servers.OrderBy(s => s.Id, StringComparer.Ordinal).ToList();
        if (servers.Count == 0)
        {
            return null;
        }

        var excluded = new HashSet<string>(StringComparer.Ordinal);
        var avoided = !string.IsNullOrEmpty(avoidServerId) && servers.Any(s => s.Id == avoidServerId);
        if (avoided)
        {
            excluded.Add(avoidServerId!);
        }

        ServerRegistration? slow = null;
        while (await strategy.PickAsync(servers, userId, excluded, cancellationToken) is { } candidate)
        {
            var result = await probe.ProbeAsync(candidate, cancellationToken);
            if (result == ProbeResult.Reachable)
            {
                return candidate;
            }

            LogUnreachable(logger, candidate.Id, candidate.Host, candidate.Port, result);
            slow ??= result == ProbeResult.TimedOut ? candidate : null;
            excluded.Add(candidate.Id);
        }

        if (slow is not null)
        {
            LogOnlySlow(logger, slow.Id);
            return slow;
        }

        if (avoided)
        {
            var fallback = servers.First(s => s.Id == avoidServerId);
            if (await probe.ProbeAsync(fallback, cancellationToken) != ProbeResult.Refused)
            {
                return fallback;
            }
        }

        LogNoLiveServer(logger, servers.Count);
        return null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "IM server {ServerId} at {Host}:{Port} did not accept a connection ({Result}); choosing another")]
    private static partial void LogUnreachable(ILogger logger, string serverId, string host, int port, ProbeResult result);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No IM server accepted a connection in time; handing out {ServerId}, which did not refuse")]
    private static partial void LogOnlySlow(ILogger logger, string serverId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "None of the {Count} registered IM servers accepted a connection")]
    private static partial void LogNoLiveServer(ILogger logger, int count);
}
