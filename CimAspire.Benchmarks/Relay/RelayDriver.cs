using System.Diagnostics;
using CimAspire.Benchmarks.Completeness;
using CimAspire.Benchmarks.Results;

namespace CimAspire.Benchmarks.Relay;

/// <summary>
/// Drives a 1:1 relay: endpoints are paired (0-1, 2-3, ...), each keeps <c>window</c> messages of <c>payload</c> bytes
/// in flight to its partner (a slot frees when the partner receives), for a warm-up and then a measured duration;
/// then sending stops, the tail drains, and completeness is checked.
/// </summary>
public static class RelayDriver
{
    public static async Task RunAsync(
        IReadOnlyList<IRelayEndpoint> endpoints,
        int window,
        int payload,
        TimeSpan warmup,
        TimeSpan duration,
        ScenarioResult result,
        CancellationToken cancellationToken,
        long maxPerStream = long.MaxValue)
    {
        var count = endpoints.Count - (endpoints.Count % 2);
        if (count < 2)
        {
            throw new InvalidOperationException("A relay needs at least two connected endpoints.");
        }

        var checker = new CompletenessChecker();
        var recorder = new LatencyRecorder();
        var slots = new SemaphoreSlim[count];
        for (var i = 0; i < count; i++)
        {
            var id = checker.RegisterStream();
            Debug.Assert(id == i, "stream ids are the endpoint indexes");
            // No maximum: a message the server called undeliverable frees its slot, and may still arrive and free it again.
            slots[i] = new SemaphoreSlim(window);
        }

        long delivered = 0;
        var measuring = 0;
        for (var i = 0; i < count; i++)
        {
            endpoints[i].Received = body =>
            {
                if (!MessageStamp.TryRead(body.Span, out var stamp) || stamp.StreamId >= count)
                {
                    result.CountError("unreadable message");
                    return;
                }

                var outcome = checker.Delivered(stamp.StreamId, 0, stamp.Sequence);
                if (Volatile.Read(ref measuring) == 1)
                {
                    Interlocked.Increment(ref delivered);
                    recorder.RecordSince(stamp.SentTimestamp);
                }

                if (outcome is DeliveryOutcome.InOrder or DeliveryOutcome.OutOfOrder)
                {
                    slots[stamp.StreamId].Release();
                }
            };
            endpoints[i].Confirmed = (body, recipientOnline) =>
            {
                if (!MessageStamp.TryRead(body.Span, out var stamp) || stamp.StreamId >= count)
                {
                    return;
                }

                if (recipientOnline)
                {
                    checker.Acknowledged(stamp.StreamId, stamp.Sequence);
                }
                else
                {
                    // Not an error of the system: it may drop a transient message for a recipient it did not see online.
                    result.CountError("recipient not online yet (transient dropped by design)");
                    slots[stamp.StreamId].Release();
                }
            };
            endpoints[i].Refused = (body, reason) =>
            {
                result.CountError("refused: " + reason);
                if (MessageStamp.TryRead(body.Span, out var stamp) && stamp.StreamId < count)
                {
                    checker.Refused(stamp.StreamId, stamp.Sequence);
                    slots[stamp.StreamId].Release();
                }
            };
        }

        using var stopSending = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var senders = new Task[count];
        for (var i = 0; i < count; i++)
        {
            senders[i] = SendLoopAsync(endpoints[i], i, i ^ 1, slots[i], checker, payload, maxPerStream, result, stopSending.Token);
        }

        await Task.Delay(warmup, cancellationToken);
        var started = Stopwatch.GetTimestamp();
        Volatile.Write(ref measuring, 1);
        if (maxPerStream == long.MaxValue)
        {
            await Task.Delay(duration, cancellationToken);
        }
        else
        {
            // A bounded run (quick) lasts until every sender sent its quota, so its completeness check covers a known count.
            await Task.WhenAll(senders).WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
            await WaitForAsync(checker.AllCaughtUp, TimeSpan.FromSeconds(10), cancellationToken);
        }

        Volatile.Write(ref measuring, 0);
        result.Seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        result.Operations = Interlocked.Read(ref delivered);
        await stopSending.CancelAsync();
        await Task.WhenAll(senders);

        // Let the messages still in flight arrive before judging.
        await WaitForAsync(checker.AllCaughtUp, TimeSpan.FromSeconds(10), cancellationToken);
        result.Unit = "messages";
        result.Latency = recorder.Summarize();
        result.Completeness = checker.Verify();
        foreach (var endpoint in endpoints)
        {
            endpoint.Received = null;
            endpoint.Refused = null;
            endpoint.Confirmed = null;
        }
    }

    private static async Task SendLoopAsync(
        IRelayEndpoint endpoint,
        int stream,
        int partner,
        SemaphoreSlim slots,
        CompletenessChecker checker,
        int payload,
        long maxPerStream,
        ScenarioResult result,
        CancellationToken cancellationToken)
    {
        await Task.Yield();
        for (long sent = 0; sent < maxPerStream && !cancellationToken.IsCancellationRequested; sent++)
        {
            try
            {
                await slots.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var seq = checker.NextSequence(stream);
            // A fresh body per message: a transport may still hold the previous one when SendAsync returns.
            var body = MessageStamp.CreateBody(payload, stream, seq, Stopwatch.GetTimestamp());
            try
            {
                await endpoint.SendAsync(partner, body);
                if (!endpoint.ConfirmsSends)
                {
                    checker.Acknowledged(stream, seq);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                result.CountError("send failed: " + e.GetType().Name);
                return;
            }
        }
    }

    /// <summary>Polls a condition until it holds or the time is up; returns whether it held.</summary>
    public static async Task<bool> WaitForAsync(Func<bool> condition, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (!condition())
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                return false;
            }

            await Task.Delay(20, cancellationToken);
        }

        return true;
    }
}
