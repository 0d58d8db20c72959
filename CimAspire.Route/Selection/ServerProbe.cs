using System.Net.Sockets;
using CimAspire.Route.Extensions;
using CimAspire.ZooKeeper.Registry;
using Microsoft.Extensions.Options;

namespace CimAspire.Route.Selection;

/// <summary>What a liveness probe found.</summary>
public enum ProbeResult
{
    /// <summary>The server accepted a TCP connection.</summary>
    Reachable,

    /// <summary>Nothing listens there (refused, unreachable): the server is gone.</summary>
    Refused,

    /// <summary>No answer within the timeout: gone, frozen, or too busy to accept (a full accept queue drops connects).</summary>
    TimedOut,
}

/// <summary>
/// Whether an IM server accepts a TCP connection within <see cref="RouteApiOptions.ProbeTimeoutMs"/>. A result is reused for
/// <see cref="RouteApiOptions.ProbeCacheMs"/>; after that the next request probes again and waits for it, while requests
/// arriving meanwhile keep the previous answer (or, for a server not probed before, wait for the same probe). A reconnect
/// storm therefore costs one probe per server per interval, not one per login, and a busy server's slow probe holds up
/// one request, not all.
/// </summary>
public sealed class ServerProbe(IOptions<RouteApiOptions> options, TimeProvider time)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _recent = new(StringComparer.Ordinal);

    public async Task<ProbeResult> ProbeAsync(ServerRegistration server, CancellationToken cancellationToken)
    {
        var key = $"{server.Id}|{server.Host}|{server.Port}";
        Task<ProbeResult> probe;
        lock (_gate)
        {
            var now = time.GetTimestamp();
            if (_recent.TryGetValue(key, out var entry) && (!entry.Probe.IsCompleted || Fresh(entry, now)))
            {
                probe = entry.Probe;
                // While another request's re-check runs, the previous answer stands (the request that started the
                // re-check waits for it, so a server that died is found at once: a refused connect takes no time).
                if (!probe.IsCompleted && entry.Previous is { IsCompletedSuccessfully: true } previous)
                {
                    return previous.Result;
                }
            }
            else
            {
                var fresh = new Entry(ConnectAsync(server), now, entry?.Probe);
                _recent[key] = fresh;
                probe = fresh.Probe;
                if (_recent.Count > 1024)
                {
                    // Servers come and go with new ids; forget stale entries rather than grow forever.
                    foreach (var stale in _recent.Where(e => e.Value.Probe.IsCompleted && !Fresh(e.Value, now)).Select(e => e.Key).ToList())
                    {
                        _recent.Remove(stale);
                    }
                }
            }
        }

        return await probe.WaitAsync(cancellationToken);
    }

    /// <summary>Forgets what is known about a server, e.g. after it left the registry.</summary>
    public void Forget(string serverId)
    {
        lock (_gate)
        {
            foreach (var key in _recent.Keys.Where(k => k.StartsWith(serverId + "|", StringComparison.Ordinal)).ToList())
            {
                _recent.Remove(key);
            }
        }
    }

    private bool Fresh(Entry entry, long now) => time.GetElapsedTime(entry.StartedAt, now).TotalMilliseconds < options.Value.ProbeCacheMs;

    // Shared by every caller, so it runs on its own timeout and is never cancelled by one of them.
    private async Task<ProbeResult> ConnectAsync(ServerRegistration server)
    {
        using var timeout = new CancellationTokenSource(options.Value.ProbeTimeoutMs);
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(server.Host, server.Port, timeout.Token);
            return ProbeResult.Reachable;
        }
        catch (OperationCanceledException)
        {
            return ProbeResult.TimedOut;
        }
        catch (SocketException)
        {
            return ProbeResult.Refused;
        }
    }

    private sealed record Entry(Task<ProbeResult> Probe, long StartedAt, Task<ProbeResult>? Previous);
}
