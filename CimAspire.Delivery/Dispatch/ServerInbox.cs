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
    public Task<IAsyncDisposable> SubscribeAsync(string serverId, Action<ServerBatch> handler, CancellationToken cancellationToken = default)
        => SubscribeAsync(serverId, handler, resumed: null, cancellationToken);

    /// <summary>
    /// Subscribes to a server's channel, like the other overload, and calls <paramref name="resumed"/> each time the
    /// subscription is live again after its connection was lost and restored (Redis restart, killed connection): whatever
    /// was published to the channel meanwhile was lost. Liveness is proven end to end: after the restore the subscription
    /// publishes probes to its own channel until one comes back, and only then calls <paramref name="resumed"/>.
    /// </summary>
    public async Task<IAsyncDisposable> SubscribeAsync(
        string serverId, Action<ServerBatch> handler, Action? resumed, CancellationToken cancellationToken = default)
    {
        var channel = RedisChannel.Literal(RedisKeys.ServerChannel(serverId));
        var queue = await redis.GetSubscriber().SubscribeAsync(channel).WaitAsync(cancellationToken);
        var subscription = new Subscription(this, redis, serverId, channel, queue, resumed);
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

            if (batch.Probe.Length > 0)
            {
                subscription.ProbeReturned(batch.Probe);
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
        return subscription;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dropped a malformed batch on the channel of server {ServerId}")]
    private partial void LogMalformedBatch(string serverId, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling a batch for server {ServerId} failed")]
    private partial void LogHandlerFailed(string serverId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The Redis subscription of server {ServerId} was restored; probing it")]
    private partial void LogSubscriptionRestored(string serverId);

    [LoggerMessage(Level = LogLevel.Information, Message = "The Redis subscription of server {ServerId} is live again after {Probes} probes")]
    private partial void LogSubscriptionResumed(string serverId, int probes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Probing the Redis subscription of server {ServerId} failed")]
    private partial void LogProbeFailed(string serverId, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "The resume handler of server {ServerId} failed")]
    private partial void LogResumeFailed(string serverId, Exception exception);

    private sealed class Outbox(RedisChannel channel)
    {
        public RedisChannel Channel { get; } = channel;

        public List<ServerDelivery> Items { get; set; } = [];

        public TaskCompletionSource Completion { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Flushing { get; set; }
    }

    /// <summary>One subscription; after a restore of the subscription connection it probes until the channel answers.</summary>
    private sealed class Subscription : IAsyncDisposable
    {
        private static readonly TimeSpan FirstProbeDelay = TimeSpan.FromMilliseconds(200);
        private static readonly TimeSpan MaxProbeDelay = TimeSpan.FromSeconds(5);

        private readonly ServerInbox _inbox;
        private readonly IConnectionMultiplexer _redis;
        private readonly string _serverId;
        private readonly RedisChannel _channel;
        private readonly ChannelMessageQueue _queue;
        private readonly Action? _resumed;
        private readonly CancellationTokenSource _disposed = new();
        private readonly Lock _gate = new();
        // The probe round in progress: its id, and the signal its return completes. Null when none is.
        private (string Id, TaskCompletionSource Returned)? _probe;

        public Subscription(ServerInbox inbox, IConnectionMultiplexer redis, string serverId, RedisChannel channel, ChannelMessageQueue queue, Action? resumed)
        {
            _inbox = inbox;
            _redis = redis;
            _serverId = serverId;
            _channel = channel;
            _queue = queue;
            _resumed = resumed;
            if (resumed is not null)
            {
                redis.ConnectionRestored += OnConnectionRestored;
            }
        }

        public void ProbeReturned(string id)
        {
            lock (_gate)
            {
                if (_probe is { } probe && probe.Id == id)
                {
                    probe.Returned.TrySetResult();
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (_resumed is not null)
            {
                _redis.ConnectionRestored -= OnConnectionRestored;
            }

            await _disposed.CancelAsync();
            await _queue.UnsubscribeAsync();
            _disposed.Dispose();
        }

        // Pub/sub runs on its own connection (RESP2, or RESP3 without a shared subscription connection): only its restore
        // can have lost pushes to this server.
        private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
        {
            if (e.ConnectionType != ConnectionType.Subscription || _disposed.IsCancellationRequested)
            {
                return;
            }

            var round = (Id: Guid.NewGuid().ToString("N"), Returned: new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            lock (_gate)
            {
                // A newer restore starts a new round; the older one's probes no longer count.
                _probe?.Returned.TrySetCanceled();
                _probe = round;
            }

            _inbox.LogSubscriptionRestored(_serverId);
            _ = ProbeAsync(round.Id, round.Returned.Task);
        }

        private async Task ProbeAsync(string id, Task returned)
        {
            var payload = new ServerBatch { Probe = id }.ToByteArray();
            var delay = FirstProbeDelay;
            var probes = 0;
            try
            {
                while (!returned.IsCompleted)
                {
                    probes++;
                    try
                    {
                        await _redis.GetSubscriber().PublishAsync(_channel, payload).WaitAsync(_disposed.Token);
                    }
                    catch (Exception ex) when (ex is RedisException or TimeoutException)
                    {
                        _inbox.LogProbeFailed(_serverId, ex);
                    }

                    // A probe that was published before the resubscribe landed is lost: send another after a while.
                    await Task.WhenAny(returned, Task.Delay(delay, _disposed.Token)).ConfigureAwait(false);
                    _disposed.Token.ThrowIfCancellationRequested();
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxProbeDelay.Ticks));
                }

                if (returned.IsCanceled)
                {
                    return;
                }

                lock (_gate)
                {
                    if (_probe?.Id == id)
                    {
                        _probe = null;
                    }
                }

                _inbox.LogSubscriptionResumed(_serverId, probes);
                try
                {
                    _resumed!();
                }
                catch (Exception ex)
                {
                    _inbox.LogResumeFailed(_serverId, ex);
                }
            }
            catch (OperationCanceledException)
            {
                // Disposed: nobody to tell.
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }
}
