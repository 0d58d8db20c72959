using System.Collections.Concurrent;
using CimAspire.Protocol;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace CimAspire.Delivery.Dispatch;

/// <summary>The Redis channel of each IM server, carrying <see cref="ServerBatch"/> frames for the recipients it holds.</summary>
/// <remarks>
/// <see cref="Enqueue"/> coalesces the items queued for one server while a publish is being issued into one batch, so
/// a burst of deliveries to a server costs one PUBLISH instead of one each. Items to one server are published in the
/// order they were queued.
/// </remarks>
public sealed partial class ServerInbox(IConnectionMultiplexer redis, ILogger<ServerInbox> logger)
{
    /// <summary>The most items one coalesced batch carries (a burst beyond it goes out as several batches, in order).</summary>
    public const int MaxBatchItems = 256;

    private readonly ConcurrentDictionary<string, Outbox> _outboxes = new(StringComparer.Ordinal);

    public async Task PublishAsync(string serverId, ServerBatch batch, CancellationToken cancellationToken = default)
    {
        await redis.GetSubscriber()
            .PublishAsync(RedisChannel.Literal(RedisKeys.ServerChannel(serverId)), batch.ToByteArray())
            .WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Queues one item for a server; it is published with whatever else is queued for that server meanwhile. The task
    /// completes when Redis accepted the batch that carried it (a failure is reported there; nothing is retried).
    /// </summary>
    public Task Enqueue(string serverId, ServerDelivery item)
    {
        ArgumentNullException.ThrowIfNull(item);
        var outbox = _outboxes.GetOrAdd(serverId, id => new Outbox(RedisChannel.Literal(RedisKeys.ServerChannel(id))));
        bool startFlusher;
        Task completion;
        lock (outbox)
        {
            outbox.Items.Add(item);
            completion = outbox.Completion.Task;
            startFlusher = !outbox.Flushing;
            outbox.Flushing = true;
        }

        if (startFlusher)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static state => state.Inbox.Flush(state.Outbox), (Inbox: this, Outbox: outbox), preferLocal: false);
        }

        return completion;
    }

    // One flusher per server at a time, issuing its publishes one after the other: that keeps the queue order.
    private void Flush(Outbox outbox)
    {
        var subscriber = redis.GetSubscriber();
        while (true)
        {
            List<ServerDelivery> items;
            TaskCompletionSource completion;
            lock (outbox)
            {
                if (outbox.Items.Count == 0)
                {
                    outbox.Flushing = false;
                    return;
                }

                items = outbox.Items;
                completion = outbox.Completion;
                outbox.Items = [];
                outbox.Completion = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            var publishes = new List<Task>((items.Count / MaxBatchItems) + 1);
            for (var start = 0; start < items.Count; start += MaxBatchItems)
            {
                var batch = new ServerBatch();
                for (var i = start; i < Math.Min(items.Count, start + MaxBatchItems); i++)
                {
                    batch.Items.Add(items[i]);
                }

                try
                {
                    publishes.Add(subscriber.PublishAsync(outbox.Channel, batch.ToByteArray()));
                }
                catch (Exception ex)
                {
                    publishes.Add(Task.FromException(ex));
                }
            }

            _ = Task.WhenAll(publishes).ContinueWith(
                static (t, state) =>
                {
                    var tcs = (TaskCompletionSource)state!;
                    if (t.IsFaulted)
                    {
                        tcs.TrySetException(t.Exception!.InnerExceptions);
                    }
                    else
                    {
                        tcs.TrySetResult();
                    }
                },
                completion,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    /// <summary>
    /// Subscribes to a server's channel. Batches reach <paramref name="handler"/> one at a time in publish order.
    /// Dispose the result to unsubscribe.
    /// </summary>
    public async Task<IAsyncDisposable> SubscribeAsync(string serverId, Action<ServerBatch> handler, CancellationToken cancellationToken = default)
    {
        var queue = await redis.GetSubscriber()
            .SubscribeAsync(RedisChannel.Literal(RedisKeys.ServerChannel(serverId)))
            .WaitAsync(cancellationToken);
        queue.OnMessage(message =>
        {
            ServerBatch batch;
            try
            {
                batch = ServerBatch.Parser.ParseFrom((byte[])message.Message!);
            }
            catch (InvalidProtocolBufferException ex)
            {
                LogMalformedBatch(serverId, ex);
                return;
            }

            try
            {
                handler(batch);
            }
            catch (Exception ex)
            {
                LogHandlerFailed(serverId, ex);
            }
        });
        return new Subscription(queue);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dropped a malformed batch on the channel of server {ServerId}")]
    private partial void LogMalformedBatch(string serverId, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling a batch for server {ServerId} failed")]
    private partial void LogHandlerFailed(string serverId, Exception exception);

    private sealed class Outbox(RedisChannel channel)
    {
        public RedisChannel Channel { get; } = channel;

        public List<ServerDelivery> Items { get; set; } = [];

        public TaskCompletionSource Completion { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Flushing { get; set; }
    }

    private sealed class Subscription(ChannelMessageQueue queue) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await queue.UnsubscribeAsync();
    }
}
