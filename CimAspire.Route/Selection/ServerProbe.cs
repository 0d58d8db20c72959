using System.Collections.Concurrent;
using System.Net.Sockets;
using CimAspire.Route.Extensions;
using CimAspire.ZooKeeper.Registry;
using Microsoft.Extensions.Options;

namespace CimAspire.Route.Selection;

/// <summary>
/// Whether an IM server accepts a TCP connection within <see cref="RouteApiOptions.ProbeTimeoutMs"/>. Results are reused for
/// <see cref="RouteApiOptions.ProbeCacheMs"/> so a reconnect storm costs one probe per server, not one per login.
/// </summary>
public sealed class ServerProbe(IOptions<RouteApiOptions> options, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, (bool Reachable, long At)> _recent = new(StringComparer.Ordinal);

    public async Task<bool> IsReachableAsync(ServerRegistration server, CancellationToken cancellationToken)
    {
        var key = $"{server.Id}|{server.Host}|{server.Port}";
        var now = time.GetTimestamp();
        if (_recent.TryGetValue(key, out var last) && time.GetElapsedTime(last.At, now).TotalMilliseconds < options.Value.ProbeCacheMs)
        {
            return last.Reachable;
        }

        var reachable = await ConnectAsync(server, cancellationToken);
        _recent[key] = (reachable, time.GetTimestamp());
        if (_recent.Count > 1024)
        {
            // Servers come and go with new ids; forget stale entries rather than grow forever.
            foreach (var stale in _recent.Where(e => time.GetElapsedTime(e.Value.At).TotalMilliseconds >= options.Value.ProbeCacheMs).ToList())
            {
                _recent.TryRemove(stale.Key, out _);
            }
        }

        return reachable;
    }

    /// <summary>Forgets what is known about a server, e.g. after it left the registry.</summary>
    public void Forget(string serverId)
    {
        foreach (var key in _recent.Keys.Where(k => k.StartsWith(serverId + "|", StringComparison.Ordinal)).ToList())
        {
            _recent.TryRemove(key, out _);
        }
    }

    private async Task<bool> ConnectAsync(ServerRegistration server, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.ProbeTimeoutMs);
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(server.Host, server.Port, timeout.Token);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
