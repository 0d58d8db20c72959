using System.Collections.Concurrent;
using CimAspire.Delivery.Dispatch;
using CimAspire.Delivery.Messages;
using CimAspire.Protocol;

namespace CimAspire.ImServer.Delivery;

/// <summary>
/// Writes delivered cursors in batches: acknowledgements queued meanwhile are merged (highest sequence per user and
/// conversation) and written together, then the other members of the conversation get a DELIVERED receipt (see MessageDispatcher.DispatchCursorReceiptAsync).
/// </summary>
public sealed partial class CursorWriter(MessageStore messages, MessageDispatcher dispatcher, ILogger<CursorWriter> logger)
    : BackgroundService
{
    private const int MaxBatch = 4096;

    // Every connection enqueues an update per acknowledgement: a lock-free queue, and the writer is woken only when it
    // sleeps (not once per update), keep that cheap when thousands of acks arrive per second.
    private readonly ConcurrentQueue<CursorUpdate> _queue = new();
    private readonly SemaphoreSlim _wake = new(0, 1);
    private int _sleeping;
    private volatile bool _stopping;

    public void Enqueue(CursorUpdate update)
    {
        _queue.Enqueue(update);
        if (Interlocked.Exchange(ref _sleeping, 0) == 1)
        {
            _wake.Release();
        }
    }

    /// <summary>Writes whatever is queued (used on shutdown).</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        if (Interlocked.Exchange(ref _sleeping, 0) == 1)
        {
            _wake.Release();
        }

        await base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new Dictionary<(string, long), long>();
        while (true)
        {
            if (_queue.IsEmpty)
            {
                if (_stopping)
                {
                    return;
                }

                // Announce the sleep, then look again: an update queued in between either is seen now or wakes us.
                Volatile.Write(ref _sleeping, 1);
                if (_queue.IsEmpty && !_stopping)
                {
                    await _wake.WaitAsync(CancellationToken.None);
                }
                else if (Interlocked.Exchange(ref _sleeping, 0) == 0)
                {
                    // Someone claimed the wake-up meanwhile: consume it so the next sleep is not skipped.
                    await _wake.WaitAsync(CancellationToken.None);
                }

                continue;
            }

            batch.Clear();
            while (batch.Count < MaxBatch && _queue.TryDequeue(out var update))
            {
                var key = (update.ConversationId, update.UserId);
                batch[key] = Math.Max(update.Seq, batch.GetValueOrDefault(key));
            }

            try
            {
                var moved = await messages.AdvanceDeliveredAsync(batch.Select(b => new CursorUpdate(b.Key.Item1, b.Key.Item2, b.Value)));
                // Receipts of a batch go out together (one member lookup per group conversation, route lookups in one
                // batch); the next batch waits for them, which keeps each peer's receipts in order.
                await dispatcher.DispatchCursorReceiptsAsync(moved, Receipt.Types.Kind.Delivered);
            }
            catch (Exception ex)
            {
                // A lost cursor write only means the overview shows older delivered state until the next ack.
                LogWriteFailed(batch.Count, ex);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Writing {Count} delivered cursors failed")]
    private partial void LogWriteFailed(int count, Exception exception);
}
