using CimAspire.Delivery;
using CimAspire.Protocol;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CimAspire.Tests.ImServer;

/// <summary>
/// Sync pages are bounded in bytes: a conversation of big messages is paged out in frames far below the 4 MiB limits
/// instead of one frame that cuts every new device off (and again at each reconnect).
/// </summary>
public sealed class PageBoundsTests(TwoServerFixture fixture) : IClassFixture<TwoServerFixture>
{
    // 64 full-size messages: about 4.2 MiB together, above the server's outbound limit and the SDK's frame limit.
    internal const int BigMessages = 64;

    private int MaxBodyBytes => fixture.A.Services.GetRequiredService<IOptions<DeliveryOptions>>().Value.MaxBodyBytes;

    private int MaxPageBytes => fixture.A.Services.GetRequiredService<IOptions<DeliveryOptions>>().Value.MaxPageBytes;

    [Fact]
    public async Task ANewDeviceSyncsAConversationOfBigMessagesInBoundedPages()
    {
        long senderId = await fixture.NewUserAsync(), readerId = await fixture.NewUserAsync();
        await using (var sender = await TestClient.LoginAsync(fixture.A, senderId))
        {
            await SendBigMessagesAsync(sender, new Target { UserId = readerId }, "big");
        }

        var conversation = ConversationIds.ForUsers(senderId, readerId);
        await using var reader = await TestClient.LoginAsync(fixture.B, readerId);
        var seqs = await SyncAllAsync(reader, conversation);

        Assert.Equal(Enumerable.Range(1, BigMessages).Select(i => (long)i), seqs);
        Assert.False(reader.Closed.Task.IsCompleted);
    }

    [Fact]
    public async Task TheEveryoneRoomOfBigMessagesIsPagedToo()
    {
        long senderId = await fixture.NewUserAsync(), readerId = await fixture.NewUserAsync();
        var room = ConversationIds.ForGroup(ConversationIds.EveryoneGroupId);
        await using var reader = await TestClient.LoginAsync(fixture.B, readerId);
        var before = (await reader.RequestAsync(new Envelope { Sync = new SyncRequest() })).SyncResponse.Conversations
            .Single(c => c.ConversationId == room).LastSeq;
        await using (var sender = await TestClient.LoginAsync(fixture.A, senderId))
        {
            await SendBigMessagesAsync(sender, new Target { GroupId = ConversationIds.EveryoneGroupId }, "room");
        }

        await using var newDevice = await TestClient.LoginAsync(fixture.A, readerId);
        var seqs = await SyncAllAsync(newDevice, room, before);

        Assert.True(seqs.Count >= BigMessages, $"Only {seqs.Count} room messages came by sync.");
        Assert.Equal(seqs.Order(), seqs);
        Assert.False(newDevice.Closed.Task.IsCompleted);
    }

    private async Task SendBigMessagesAsync(TestClient sender, Target to, string prefix)
    {
        var body = ByteString.CopyFrom(new byte[MaxBodyBytes]);
        for (var i = 0; i < BigMessages; i++)
        {
            var ack = await sender.RequestAsync(new Envelope
            {
                Send = new SendRequest { ClientMsgId = $"{prefix}-{i}", To = to, ContentType = ContentType.Binary, Body = body },
            });
            Assert.Equal(Envelope.BodyOneofCase.SendAck, ack.BodyCase);
        }
    }

    // Pages as a client must (after_seq = last returned seq, while has_more), checking every page's size.
    private async Task<List<long>> SyncAllAsync(TestClient client, string conversationId, long after = 0)
    {
        var seqs = new List<long>();
        for (var pages = 0; ; pages++)
        {
            Assert.True(pages < 2 * BigMessages, "Paging did not end.");
            var reply = await client.RequestAsync(new Envelope
            {
                Sync = new SyncRequest { ConversationId = conversationId, AfterSeq = after, Limit = 500 },
            });
            Assert.Equal(Envelope.BodyOneofCase.SyncResponse, reply.BodyCase);
            var page = reply.SyncResponse;
            Assert.NotEmpty(page.Messages);
            Assert.True(page.CalculateSize() <= MaxPageBytes + MaxBodyBytes,
                $"A page of {page.Messages.Count} messages took {page.CalculateSize()} bytes.");
            seqs.AddRange(page.Messages.Select(m => m.Seq));
            after = page.Messages[^1].Seq;
            if (!page.HasMore)
            {
                return seqs;
            }
        }
    }
}
