using CimAspire.Protocol;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace CimAspire.Delivery.Dispatch;

/// <summary>The Redis channel of each IM server, carrying <see cref="ServerBatch"/> frames for the recipients it holds.</summary>
public sealed partial class ServerInbox(IConnectionMultiplexer redis, ILogger<ServerInbox> logger)
{
    public async Task PublishAsync(string serverId, ServerBatch batch, CancellationToken cancellationToken = default)
    {
        await redis.GetSubscriber()
            .PublishAsync(RedisChannel.Literal(RedisKeys.ServerChannel(serverId)), batch.ToByteArray())
            .WaitAsync(cancellationToken);
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

    private sealed class Subscription(ChannelMessageQueue queue) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await queue.UnsubscribeAsync();
    }
}
