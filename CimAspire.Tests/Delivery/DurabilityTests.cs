using CimAspire.Delivery;
using CimAspire.Delivery.Messages;
using CimAspire.Protocol;
using CimAspire.Tests.Infrastructure;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace CimAspire.Tests.Delivery;

public sealed class DurabilityTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AcknowledgedMessagesSurviveAKilledAndRestartedRedis()
    {
        var first = await RedisProcess.StartAsync();
        RedisProcess? second = null;
        var redis = first;
        var (port, folder) = (redis.Port, redis.DataDirectory);
        long a = RedisFixture.NewUserId(), b = RedisFixture.NewUserId();
        var conversation = ConversationIds.ForUsers(a, b);
        try
        {
            await using (var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString).WaitAsync(Timeout))
            {
                var store = new MessageStore(connection, Options.Create(new DeliveryOptions()), TimeProvider.System);
                for (var i = 0; i < 50; i++)
                {
                    // Each append returned: that is the moment a server sends the ack.
                    await store.AppendAsync(new AppendRequest(a, "a", new Target { UserId = b }, $"m{i}", ContentType.Text, ByteString.CopyFromUtf8($"t{i}"))).WaitAsync(Timeout);
                }
            }

            // SIGKILL: no shutdown save; only what the append-only file holds comes back.
            await first.KillAsync();
            second = await RedisProcess.StartAsync(port, folder);
            redis = second;

            await using var reconnected = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString).WaitAsync(Timeout);
            var restarted = new MessageStore(reconnected, Options.Create(new DeliveryOptions()), TimeProvider.System);
            var page = await restarted.ReadAfterAsync(conversation, 0, 100).WaitAsync(Timeout);
            Assert.Equal(Enumerable.Range(0, 50).Select(i => $"m{i}"), page.Messages.Select(m => m.ClientMsgId));
            var retry = await restarted.AppendAsync(new AppendRequest(a, "a", new Target { UserId = b }, "m49", ContentType.Text, ByteString.CopyFromUtf8("t49"))).WaitAsync(Timeout);
            Assert.True(retry.Duplicate);
            var next = await restarted.AppendAsync(new AppendRequest(a, "a", new Target { UserId = b }, "m50", ContentType.Text, ByteString.Empty)).WaitAsync(Timeout);
            Assert.Equal(51, next.Message.Seq);
        }
        finally
        {
            // The second server stops first; the first one's dispose then only removes the (shared) folder.
            if (second is not null)
            {
                await second.DisposeAsync();
            }

            await first.DisposeAsync();
        }
    }
}
