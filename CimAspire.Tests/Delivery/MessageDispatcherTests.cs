using CimAspire.Delivery.Dispatch;
using CimAspire.Delivery.Routes;
using CimAspire.Protocol;

namespace CimAspire.Tests.Delivery;

public sealed class MessageDispatcherTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task AGroupMessageGoesOnceToEachServerHoldingMembers()
    {
        var routes = fixture.CreateRouteStore();
        var groups = fixture.CreateGroupStore();
        var inbox = fixture.CreateInbox();
        string here = $"srv-here-{Guid.NewGuid():N}", there = $"srv-there-{Guid.NewGuid():N}", idle = $"srv-idle-{Guid.NewGuid():N}";
        long sender = RedisFixture.NewUserId(), local = RedisFixture.NewUserId(), remote1 = RedisFixture.NewUserId(),
            remote2 = RedisFixture.NewUserId(), offline = RedisFixture.NewUserId();
        var group = await groups.CreateAsync("g", sender).WaitAsync(Timeout);
        foreach (var member in new[] { local, remote1, remote2, offline })
        {
            await groups.JoinAsync(group.GroupId, member).WaitAsync(Timeout);
        }

        await routes.ClaimAsync(sender, here, RouteClaimMode.Exclusive).WaitAsync(Timeout);
        await routes.ClaimAsync(local, here, RouteClaimMode.Exclusive).WaitAsync(Timeout);
        await routes.ClaimAsync(remote1, there, RouteClaimMode.Exclusive).WaitAsync(Timeout);
        await routes.ClaimAsync(remote2, there, RouteClaimMode.Exclusive).WaitAsync(Timeout);

        var received = new TaskCompletionSource<ServerBatch>(TaskCreationOptions.RunContinuationsAsynchronously);
        var idleReceived = 0;
        await using var subscription = await inbox.SubscribeAsync(there, b => received.TrySetResult(b)).WaitAsync(Timeout);
        await using var idleSubscription = await inbox.SubscribeAsync(idle, _ => Interlocked.Increment(ref idleReceived)).WaitAsync(Timeout);
        var sink = new RecordingSink(here);
        var dispatcher = new MessageDispatcher(routes, groups, inbox, sink);

        var message = new ChatMessage { SenderId = sender, To = new Target { GroupId = group.GroupId }, Seq = 1, ConversationId = ConversationIds.ForGroup(group.GroupId) };
        var result = await dispatcher.DispatchMessageAsync(message).WaitAsync(Timeout);

        Assert.Equal((3, 2), (result.OnlineRecipients, result.Servers));
        var localItem = Assert.Single(sink.Items);
        Assert.Equal([local], localItem.RecipientIds);
        var batch = await received.Task.WaitAsync(Timeout);
        var remoteItem = Assert.Single(batch.Items);
        Assert.Equal([remote1, remote2], remoteItem.RecipientIds.Order());
        Assert.Equal(1, remoteItem.Message.Seq);
        Assert.Equal(0, Volatile.Read(ref idleReceived));
    }

    [Fact]
    public async Task AnOfflineRecipientGetsNothingPushed()
    {
        var sink = new RecordingSink("srv-x");
        var dispatcher = new MessageDispatcher(fixture.CreateRouteStore(), fixture.CreateGroupStore(), fixture.CreateInbox(), sink);

        var result = await dispatcher.DispatchMessageAsync(new ChatMessage { SenderId = RedisFixture.NewUserId(), To = new Target { UserId = RedisFixture.NewUserId() } }).WaitAsync(Timeout);

        Assert.Equal((0, 0), (result.OnlineRecipients, result.Servers));
        Assert.Empty(sink.Items);
    }

    [Fact]
    public async Task ACursorReceiptGoesToThePeerOrTheOtherGroupMembersButNeverToTheEveryoneRoom()
    {
        var routes = fixture.CreateRouteStore();
        var groups = fixture.CreateGroupStore();
        var here = $"srv-here-{Guid.NewGuid():N}";
        long reader = RedisFixture.NewUserId(), peer = RedisFixture.NewUserId(), member = RedisFixture.NewUserId(), stranger = RedisFixture.NewUserId();
        var group = await groups.CreateAsync("g", peer).WaitAsync(Timeout);
        await groups.JoinAsync(group.GroupId, reader).WaitAsync(Timeout);
        await groups.JoinAsync(group.GroupId, member).WaitAsync(Timeout);
        foreach (var user in new[] { reader, peer, member, stranger })
        {
            await routes.ClaimAsync(user, here, RouteClaimMode.Exclusive).WaitAsync(Timeout);
        }

        var sink = new RecordingSink(here);
        var dispatcher = new MessageDispatcher(routes, groups, fixture.CreateInbox(), sink);

        var direct = ConversationIds.ForUsers(reader, peer);
        await dispatcher.DispatchCursorReceiptAsync(direct, reader, Receipt.Types.Kind.Read, 4).WaitAsync(Timeout);
        var groupConversation = ConversationIds.ForGroup(group.GroupId);
        var groupResult = await dispatcher.DispatchCursorReceiptAsync(groupConversation, reader, Receipt.Types.Kind.Delivered, 7).WaitAsync(Timeout);
        var everyone = await dispatcher.DispatchCursorReceiptAsync(ConversationIds.ForGroup(ConversationIds.EveryoneGroupId), reader, Receipt.Types.Kind.Read, 9).WaitAsync(Timeout);

        Assert.Equal(2, groupResult.OnlineRecipients);
        Assert.Equal((0, 0), (everyone.OnlineRecipients, everyone.Servers));
        Assert.Collection(
            sink.Items,
            item =>
            {
                Assert.Equal([peer], item.RecipientIds);
                Assert.Equal((direct, reader, Receipt.Types.Kind.Read, 4L), (item.Receipt.ConversationId, item.Receipt.UserId, item.Receipt.Kind, item.Receipt.Seq));
            },
            item =>
            {
                Assert.Equal(new[] { member, peer }.Order(), item.RecipientIds.Order());
                Assert.Equal((groupConversation, reader, Receipt.Types.Kind.Delivered, 7L), (item.Receipt.ConversationId, item.Receipt.UserId, item.Receipt.Kind, item.Receipt.Seq));
            });
    }

    private sealed class RecordingSink(string serverId) : ILocalDelivery
    {
        public List<ServerDelivery> Items { get; } = [];

        public string ServerId => serverId;

        public void Deliver(ServerDelivery delivery)
        {
            lock (Items)
            {
                Items.Add(delivery);
            }
        }
    }
}
