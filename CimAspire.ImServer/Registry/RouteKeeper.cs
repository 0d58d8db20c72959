using CimAspire.ImServer.Sessions;
using Microsoft.Extensions.Options;

namespace CimAspire.ImServer.Registry;

/// <summary>
/// Keeps the routes of this server's users in Redis: when the registration is restored after it was lost (the route API
/// then removed this server's routes, see docs/delivery.md) and every <see cref="ImServerOptions.RouteAuditInterval"/>,
/// it has the session registry claim again the routes of held users that Redis no longer records. The route API's
/// removal may land after the registration is back, so a restore is followed by a second check shortly after.
/// </summary>
public sealed partial class RouteKeeper(
    SessionRegistry sessions,
    IServerAnnouncer announcer,
    IOptions<ImServerOptions> options,
    TimeProvider time,
    ILogger<RouteKeeper> logger) : BackgroundService
{
    private static readonly TimeSpan FollowUpDelay = TimeSpan.FromSeconds(2);

    private readonly SemaphoreSlim _wake = new(0, 1);
    private CancellationToken _stopping;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        announcer.RegistrationRestored += OnRegistrationRestored;
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        announcer.RegistrationRestored -= OnRegistrationRestored;
        await base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _stopping = stoppingToken;
        var interval = options.Value.RouteAuditInterval;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                // Woken early by a restore; otherwise the interval elapsed.
                await _wake.WaitAsync(interval, stoppingToken);

                try
                {
                    await sessions.ReclaimLostRoutesAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The next round tries again.
                    LogAuditFailed(ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private void OnRegistrationRestored()
    {
        Wake();
        _ = FollowUpAsync();
    }

    private async Task FollowUpAsync()
    {
        try
        {
            await Task.Delay(FollowUpDelay, time, _stopping);
            Wake();
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // A check is already due; it covers this one.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Checking the routes of this server's users failed")]
    private partial void LogAuditFailed(Exception exception);
}
