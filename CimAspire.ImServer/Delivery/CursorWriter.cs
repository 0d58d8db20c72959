using System.Threading.Channels;
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
    private const int MaxBatch = 512;
    private readonly Channel<CursorUpdate> _queue = Channel.CreateUnbounded<CursorUpdate>(new UnboundedChannelOptions { SingleReader = true });

    public void Enqueue(CursorUpdate update) => _queue.Writer.TryWrite(update);

    /// <summary>Writes whatever is queued (used on shutdown).</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new Dictionary<(string, long), long>();
        while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var update))
            {
                var key = (update.ConversationId, update.UserId);
                batch[key] = Math.Max(update.Seq, batch.GetValueOrDefault(key));
            }

            try
            {
                var moved = await messages.AdvanceDeliveredAsync(batch.Select(b => new CursorUpdate(b.Key.Item1, b.Key.Item2, b.Value)));
                foreach (var update in moved)
                {
                    await dispatcher.DispatchCursorReceiptAsync(update.ConversationId, update.UserId, Receipt.Types.Kind.Delivered, update.Seq);
                }
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
