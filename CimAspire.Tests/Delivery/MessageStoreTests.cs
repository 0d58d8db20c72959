using CimAspire.Delivery;
using CimAspire.Delivery.Messages;
using CimAspire.Protocol;
using Google.Protobuf;

namespace CimAspire.Tests.Delivery;

public sealed class MessageStoreTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static AppendRequest Text(long from, long to, string clientId, string text = "hi")
        => new(from, $"user{from}", new Target { UserId = to }, clientId, ContentType.Text, ByteString.CopyFromUtf8(text));

    [Fact]
    public async Task RetriedSendReturnsTheOriginalAckAndStoresOneCopy()
    {
        var store = fixture.CreateMessageStore();
        long a = RedisFixture.NewUserId(), b = RedisFixture.NewUserId();

        var first = await store.AppendAsync(Text(a, b, "c-1", "hello")).WaitAsync(Timeout);
        var retry = await store.AppendAsync(Text(a, b, "c-1", "hello")).WaitAsync(Timeout);
        var other = await store.AppendAsync(Text(a, b, "c-2", "again")).WaitAsync(Timeout);

        Assert.False(first.Duplicate);
        Assert.True(retry.Duplicate);
        Assert.Equal(first.Message.Seq, retry.Message.Seq);
        Assert.Equal(first.Message.ServerMsgId, retry.Message.ServerMsgId);
        Assert.Equal(first.Message.ServerTimeMs, retry.Message.ServerTimeMs);
        Assert.Equal(first.Message.Seq + 1, other.Message.Seq);
        var page = await store.ReadAfterAsync(ConversationIds.ForUsers(a, b), 0, 100).WaitAsync(Timeout);
        Assert.Equal(["hello", "again"], page.Messages.Select(m => m.Body.ToStringUtf8()));
    }

    [Fact]
    public async Task TheSameClientIdFromAnotherSenderIsAnotherMessage()
    {
        var store = fixture.CreateMessageStore();
        long a = RedisFixture.NewUserId(), b = RedisFixture.NewUserId();

        var fromA = await store.AppendAsync(Text(a, b, "same")).WaitAsync(Timeout);
        var fromB = await store.AppendAsync(Text(b, a, "same")).WaitAsync(Timeout);

        Assert.False(fromB.Duplicate);
        Assert.NotEqual(fromA.Message.Seq, fromB.Message.Seq);
    }

    [Fact]
    public async Task ConcurrentSendsGetGaplessDistinctSequencesInStoredOrder()
    {
        var store = fixture.CreateMessageStore();
        long a = RedisFixture.NewUserId(), b = RedisFixture.NewUserId();

        var results = await Task.WhenAll(Enumerable.Range(0, 300).Select(i =>
            store.AppendAsync(Text(i % 2 == 0 ? a : b, i % 2 == 0 ? b : a, $"m{i}", $"t{i}")))).WaitAsync(Timeout);

        Assert.Equal(Enumerable.Range(1, 300).Select(i => (long)i), results.Select(r => r.Message.Seq).Order());
        var page = await store.ReadAfterAsync(ConversationIds.ForUsers(a, b), 0, 500).WaitAsync(Timeout);
        Assert.Equal(Enumerable.Range(1, 300).Select(i => (long)i), page.Messages.Select(m => m.Seq));
        foreach (var result in results)
        {
            Assert.Equal(result.Message.ClientMsgId, page.Messages[(int)result.Message.Seq - 1].ClientMsgId);
        }
    }

    [Fact]
    public async Task ABacklogOfTenThousandMessagesSyncsCompletelyInPages()
    {
        var store = fixture.CreateMessageStore();
        long a = RedisFixture.NewUserId(), b = RedisFixture.NewUserId();
        for (var chunk = 0; chunk < 20; chunk++)
        {
            await Task.WhenAll(Enumerable.Range(chunk * 500, 500).Select(i => store.AppendAsync(Text(a, b, $"m{i}")))).WaitAsync(Timeout);
        }

        var conversation = ConversationIds.ForUsers(a, b);
        var seen = new List<long>();
        long after = 0;
        var pages = 0;
        while (true)
        {
            var page = await store.ReadAfterAsync(conversation, after, 500).WaitAsync(Timeout);
            pages++;
            seen.AddRange(page.Messages.Select(m => m.Seq));
            if (!page.HasMore)
            {
                break;
            }

            after = page.Messages[^1].Seq;
        }

        Assert.Equal(20, pages);
        Assert.Equal(Enumerable.Range(1, 10_000).Select(i => (long)i), seen);
    }

    [Fact]
    public async Task HistoryPagesBackwardsOldestFirstWithinAPage()
    {
        var store = fixture.CreateMessageStore();
        long a = RedisFixture.NewUserId(), b = RedisFixture.NewUserId();
        for (var i = 0; i < 25; i++)
        {
            await store.AppendAsync(Text(a, b, $"m{i}")).WaitAsync(Timeout);
        }

        var conversation = ConversationIds.ForUsers(a, b);
        var newest = await store.ReadBeforeAsync(conversation, 0, 10).WaitAsync(Timeout);
        var older = await store.ReadBeforeAsync(conversation, newest.Messages[0].Seq, 10).WaitAsync(Timeout);
        var oldest = await store.ReadBeforeAsync(conversation, older.Messages[0].Seq, 10).WaitAsync(Timeout);

        Assert.Equal(Enumerable.Range(16, 10).Select(i => (long)i), newest.Messages.Select(m => m.Seq));
        Assert.True(newest.HasMore);
        Assert.Equal(Enumerable.Range(6, 10).Select(i => (long)i), older.Messages.Select(m => m.Seq));
        Assert.Equal(Enumerable.Range(1, 5).Select(i => (long)i), oldest.Messages.Select(m => m.Seq));
        Assert.False(oldest.HasMore);
    }

    [Fact]
    public async Task RetentionByLengthKeepsTheNewestMessages()
    {
        var store = fixture.CreateMessageStore(new DeliveryOptions { RetentionMaxMessages = 10 });
        long a = RedisFixture.NewUserId(), b = RedisFixture.NewUserId();
        for (var i = 0; i < 25; i++)
        {
            await store.AppendAsync(Text(a, b, $"m{i}")).WaitAsync(Timeout);
        }

        var page = await store.ReadAfterAsync(ConversationIds.ForUsers(a, b), 0, 100).WaitAsync(Timeout);
        Assert.Equal(Enumerable.Range(16, 10).Select(i => (long)i), page.Messages.Select(m => m.Seq));
        var retryOfKept = await store.AppendAsync(Text(a, b, "m24")).WaitAsync(Timeout);
        Assert.True(retryOfKept.Duplicate);
        Assert.Equal(25, retryOfKept.Message.Seq);
    }

    [Fact]
    public async Task RetentionByAgeDropsOldMessagesOnWriteAndHidesThemOnRead()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var store = fixture.CreateMessageStore(new DeliveryOptions { RetentionMaxAge = TimeSpan.FromHours(1) }, clock);
        long a = RedisFixture.NewUserId(), b = RedisFixture.NewUserId();
        var conversation = ConversationIds.ForUsers(a, b);
        for (var i = 0; i < 3; i++)
        {
            await store.AppendAsync(Text(a, b, $"old{i}")).WaitAsync(Timeout);
        }

        clock.Now += TimeSpan.FromMinutes(61);
        Assert.Empty((await store.ReadAfterAsync(conversation, 0, 100).WaitAsync(Timeout)).Messages);

        await store.AppendAsync(Text(a, b, "new")).WaitAsync(Timeout);
        clock.Now -= TimeSpan.FromMinutes(61);
        var page = await store.ReadAfterAsync(conversation, 0, 100).WaitAsync(Timeout);
        Assert.Equal(["new"], page.Messages.Select(m => m.ClientMsgId));
        Assert.Equal(4, page.Messages[0].Seq);
    }

    [Fact]
    public async Task CursorsOnlyMoveForwardAndUnreadFollowsTheReadCursor()
    {
        var store = fixture.CreateMessageStore();
        long a = RedisFixture.NewUserId(), b = RedisFixture.NewUserId();
        var conversation = ConversationIds.ForUsers(a, b);
        for (var i = 0; i < 3; i++)
        {
            await store.AppendAsync(Text(a, b, $"m{i}", $"text{i}")).WaitAsync(Timeout);
        }

        var before = Assert.Single(await store.GetConversationsAsync(b).WaitAsync(Timeout), c => c.ConversationId == conversation);
        Assert.Equal((3L, 0L, 0L, 3L), (before.LastSeq, before.DeliveredSeq, before.ReadSeq, before.Unread));
        Assert.Equal(a, before.Peer.UserId);
        Assert.Equal("text2", before.LastMessage!.Body.ToStringUtf8());
        var senderView = Assert.Single(await store.GetConversationsAsync(a).WaitAsync(Timeout), c => c.ConversationId == conversation);
        Assert.Equal(0, senderView.Unread);

        var moved = await store.AdvanceDeliveredAsync([new CursorUpdate(conversation, b, 2)]).WaitAsync(Timeout);
        Assert.Equal(2, Assert.Single(moved).Seq);
        Assert.Empty(await store.AdvanceDeliveredAsync([new CursorUpdate(conversation, b, 1)]).WaitAsync(Timeout));
        var capped = await store.AdvanceReadAsync([new CursorUpdate(conversation, b, 999)]).WaitAsync(Timeout);
        Assert.Equal(3, Assert.Single(capped).Seq);

        Assert.Equal((3L, 3L), await store.GetCursorsAsync(conversation, b).WaitAsync(Timeout));
        var after = (await store.GetConversationAsync(conversation, b).WaitAsync(Timeout))!;
        Assert.Equal(0, after.Unread);
    }

    [Fact]
    public async Task GroupConversationsAreListedForMembersAndTheEveryoneRoomForAll()
    {
        var store = fixture.CreateMessageStore();
        var groups = fixture.CreateGroupStore();
        long a = RedisFixture.NewUserId(), b = RedisFixture.NewUserId();
        var group = await groups.CreateAsync("team", a).WaitAsync(Timeout);
        await groups.JoinAsync(group.GroupId, b).WaitAsync(Timeout);
        await store.AppendAsync(new AppendRequest(a, "a", new Target { GroupId = group.GroupId }, "g1", ContentType.Text, ByteString.CopyFromUtf8("x"))).WaitAsync(Timeout);

        var ofB = await store.GetConversationsAsync(b).WaitAsync(Timeout);
        var conversation = Assert.Single(ofB, c => c.ConversationId == ConversationIds.ForGroup(group.GroupId));
        Assert.Equal(1, conversation.Unread);
        Assert.Equal(group.GroupId, conversation.Peer.GroupId);
        Assert.Contains(ofB, c => c.ConversationId == ConversationIds.ForGroup(ConversationIds.EveryoneGroupId));
    }

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
