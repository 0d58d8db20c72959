using CimAspire.Delivery.Dispatch;
using CimAspire.Delivery.Routes;
using CimAspire.Protocol;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CimAspire.Delivery.Presence;

/// <summary>
/// Tells every online user when another user comes online or goes offline (<see cref="PresenceChange"/> notices).
/// Changes are collected for <see cref="DeliveryOptions.PresenceFlushInterval"/>, coalesced per user (the last state
/// wins; a flap that ends where it started sends nothing), and each live server gets the whole window as one
/// <see cref="ServerBatch"/> of all-users deliveries that leave the user themself out. Best-effort: nothing is stored,
/// and above <see cref="DeliveryOptions.PresenceBroadcastMaxOnline"/> online users nothing is pushed at all.
/// </summary>
public sealed partial class PresenceNotifier(
    RouteStore routes,
    ServerInbox inbox,
    IOptions<DeliveryOptions> options,
    TimeProvider time,
    ILogger<PresenceNotifier> logger) : BackgroundService
{
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _flushing = new(1, 1);
    private Dictionary<long, Pending> _pending = [];

    /// <summary>Queues a transition reported by the route store (a first claim, a last release); never blocks.</summary>
    public void Enqueue(long userId, string userName, bool online)
    {
        lock (_gate)
        {
            _pending[userId] = _pending.TryGetValue(userId, out var earlier)
                ? earlier with { UserName = userName, Last = online }
                : new Pending(userName, online, online);
        }
    }

    /// <summary>
    /// Sends what was queued since the last flush; returns how many changes went out. The loop calls this every
    /// interval; tests call it directly.
    /// </summary>
    public async Task<int> FlushAsync(CancellationToken cancellationToken = default)
    {
        await _flushing.WaitAsync(cancellationToken);
        try
        {
            Dictionary<long, Pending> window;
            lock (_gate)
            {
                if (_pending.Count == 0)
                {
                    return 0;
                }

                window = _pending;
                _pending = [];
            }

            // The first change of a window tells the state announced before it; ending there again changes nothing.
            var changes = window.Where(c => c.Value.First == c.Value.Last).ToList();
            var limit = options.Value.PresenceBroadcastMaxOnline;
            if (changes.Count == 0 || limit == 0)
            {
                return 0;
            }

            var online = await routes.GetOnlineCountAsync(cancellationToken);
            if (online > limit)
            {
                LogTooManyOnline(changes.Count, online, limit);
                return 0;
            }

            // A user moving between servers is reported by both; sending only what is still true keeps a late
            // "offline" from one server from overtaking the "online" of the other.
            var routed = await routes.GetRoutesAsync(changes.Select(c => c.Key).ToList(), cancellationToken);
            var batch = new ServerBatch();
            foreach (var (userId, change) in changes)
            {
                if (routed.ContainsKey(userId) != change.Last)
                {
                    continue;
                }

                batch.Items.Add(new ServerDelivery
                {
                    Notice = new Notice { Presence = new PresenceChange { UserId = userId, UserName = change.UserName, Online = change.Last } },
                    AllUsers = true,
                    ExcludeUserIds = { userId },
                });
            }

            if (batch.Items.Count == 0)
            {
                return 0;
            }

            var servers = (await routes.GetLoadsAsync(cancellationToken)).Keys;
            await Task.WhenAll(servers.Select(server => inbox.PublishAsync(server, batch, cancellationToken)));
            return batch.Items.Count;
        }
        finally
        {
            _flushing.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.PresenceFlushInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushLoggingErrorsAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        // The users of connections closed while the host stopped still go offline for the others.
        await FlushLoggingErrorsAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _flushing.Dispose();
        base.Dispose();
    }

    private async Task FlushLoggingErrorsAsync(CancellationToken cancellationToken)
    {
        try
        {
            await FlushAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // Presence is best-effort: clients reload the online list from the route API when they reconnect.
            LogFlushFailed(ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Not pushing {Changes} presence changes: {Online} users online is above the limit of {Limit}")]
    private partial void LogTooManyOnline(int changes, long online, int limit);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pushing presence changes failed; they are dropped")]
    private partial void LogFlushFailed(Exception exception);

    private sealed record Pending(string UserName, bool First, bool Last);
}
