using System.Threading.Channels;
using CimAspire.Delivery.Presence;
using CimAspire.Delivery.Routes;
using CimAspire.Route.Accounts;
using CimAspire.Route.Selection;
using CimAspire.ZooKeeper.Registry;
using StackExchange.Redis;

namespace CimAspire.Route.Presence;

/// <summary>
/// When an IM server leaves the registry (its ZooKeeper session ended: crash, kill, shutdown), its users go offline at
/// once instead of waiting for heartbeats. Every route replica does this; the delivery core's removal is idempotent.
/// A Redis failure is retried with backoff, so a departure is not forgotten because Redis blinked. The users who went
/// offline are announced to the others (only by the replica whose removal took them offline).
/// </summary>
public sealed partial class ServerDepartureWatcher(
    IServerDirectory directory,
    RouteStore routes,
    AccountStore accounts,
    PresenceNotifier presence,
    ServerProbe probe,
    ILogger<ServerDepartureWatcher> logger) : BackgroundService
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);
    private const int MaxAttempts = 12;

    private readonly Channel<string> _departed = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        directory.Changed += OnChanged;
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        directory.Changed -= OnChanged;
        _departed.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
    }

    private void OnChanged(ServerDirectoryChange change)
    {
        foreach (var server in change.Left)
        {
            probe.Forget(server.Id);
            _departed.Writer.TryWrite(server.Id);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var serverId in _departed.Reader.ReadAllAsync(stoppingToken))
            {
                await MarkOfflineAsync(serverId, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task MarkOfflineAsync(string serverId, CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var departure = await routes.MarkServerOfflineAsync(serverId, stoppingToken);
                LogServerLeft(logger, serverId, departure.Users);
                await AnnounceOfflineAsync(serverId, departure.WentOffline);
                return;
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException && attempt < MaxAttempts)
            {
                LogRetry(logger, serverId, attempt, ex);
                await Task.Delay(delay, stoppingToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxBackoff.Ticks));
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                LogGaveUp(logger, serverId, ex);
                return;
            }
        }
    }

    // Not retried: the removal is done, and presence is best-effort (clients reload the online list on reconnect).
    private async Task AnnounceOfflineAsync(string serverId, IReadOnlyList<long> userIds)
    {
        if (userIds.Count == 0)
        {
            return;
        }

        try
        {
            var names = await accounts.GetNamesAsync(userIds);
            foreach (var userId in userIds)
            {
                presence.Enqueue(userId, names.GetValueOrDefault(userId, string.Empty), online: false);
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogAnnounceFailed(logger, serverId, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Announcing that the users of IM server {ServerId} went offline failed")]
    private static partial void LogAnnounceFailed(ILogger logger, string serverId, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "IM server {ServerId} left the registry; its {Users} users are offline")]
    private static partial void LogServerLeft(ILogger logger, string serverId, int users);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Marking the users of IM server {ServerId} offline failed (attempt {Attempt}); retrying")]
    private static partial void LogRetry(ILogger logger, string serverId, int attempt, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Gave up marking the users of IM server {ServerId} offline")]
    private static partial void LogGaveUp(ILogger logger, string serverId, Exception exception);
}
