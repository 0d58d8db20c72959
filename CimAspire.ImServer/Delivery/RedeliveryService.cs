using CimAspire.Delivery;
using CimAspire.ImServer.Sessions;
using Microsoft.Extensions.Options;

namespace CimAspire.ImServer.Delivery;

/// <summary>Periodically pushes again what connected clients did not acknowledge within the redelivery timeout.</summary>
public sealed partial class RedeliveryService(
    SessionRegistry sessions,
    IOptions<DeliveryOptions> options,
    TimeProvider time,
    ILogger<RedeliveryService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(20).Ticks, options.Value.RedeliveryTimeout.Ticks / 4));
        using var timer = new PeriodicTimer(period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var resent = 0;
                foreach (var connection in sessions.Connections)
                {
                    resent += connection.RedeliverDue();
                }

                if (resent > 0)
                {
                    LogRedelivered(resent);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Pushed {Count} unacknowledged messages again")]
    private partial void LogRedelivered(int count);
}
