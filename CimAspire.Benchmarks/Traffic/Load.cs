using System.Diagnostics;

namespace CimAspire.Benchmarks.Traffic;

/// <summary>The two ways a scenario pushes stored messages: as fast as the windows allow, or at a fixed rate.</summary>
public static class Load
{
    /// <summary>Every stream keeps its window full until <paramref name="stop"/> fires or it sent <paramref name="maxPerStream"/>.</summary>
    public static Task[] StartWindowed(StoredTraffic traffic, long maxPerStream, CancellationToken stop) =>
        [.. Enumerable.Range(0, traffic.StreamCount).Select(stream => Task.Run(async () =>
        {
            try
            {
                for (long sent = 0; sent < maxPerStream && !stop.IsCancellationRequested; sent++)
                {
                    await traffic.SendWindowedAsync(stream, stop);
                }
            }
            catch (OperationCanceledException)
            {
            }
        }))];

    /// <summary>
    /// Sends <paramref name="perSecond"/> messages a second, round robin over the streams, until <paramref name="stop"/>
    /// fires or <paramref name="maxMessages"/> went out. Each message is stamped with the time it was due.
    /// </summary>
    public static Task StartFixedRate(StoredTraffic traffic, int perSecond, long maxMessages, CancellationToken stop) => Task.Run(async () =>
    {
        var started = Stopwatch.GetTimestamp();
        long sent = 0;
        var stream = 0;
        try
        {
            while (!stop.IsCancellationRequested && sent < maxMessages)
            {
                var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
                var due = Math.Min(maxMessages, (long)(elapsed * perSecond));
                while (sent < due)
                {
                    var dueAt = started + (long)(sent * (double)Stopwatch.Frequency / perSecond);
                    traffic.Send(stream, dueAt);
                    stream = (stream + 1) % traffic.StreamCount;
                    sent++;
                }

                await Task.Delay(1, stop);
            }
        }
        catch (OperationCanceledException)
        {
        }
    });

    public static async Task<bool> WaitForAsync(Func<bool> condition, TimeSpan timeout, CancellationToken cancellationToken) =>
        await Relay.RelayDriver.WaitForAsync(condition, timeout, cancellationToken);
}
