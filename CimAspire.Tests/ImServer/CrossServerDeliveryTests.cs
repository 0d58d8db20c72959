using CimAspire.Delivery.Groups;
using CimAspire.Delivery.Routes;
using CimAspire.Protocol;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;

namespace CimAspire.Tests.ImServer;

public sealed class CrossServerDeliveryTests(TwoServerFixture cluster) : IClassFixture<TwoServerFixture>
{
    [Fact]
    public async Task LoginTellsTheHeartbeatRulesAndPingGetsPong()
    {
        var user = await cluster.NewUserAsync();
        await using var client = await TestClient.ConnectAsync(cluster.A.Port);

        var login = await client.RequestAsync(new Envelope { Login = new LoginRequest { Token = cluster.A.IssueToken(user) } });
        Assert.Equal((user, cluster.A.Id), (login.LoginResult.UserId, login.LoginResult.ServerId));
        Assert.True(login.LoginResult.PingIntervalMs > 0 && login.LoginResult.IdleTimeoutMs > login.LoginResult.PingIntervalMs);

        var pong = await client.RequestAsync(new Envelope { Ping = new Ping { ClientTimeMs = 42 } });
        Assert.Equal(42, pong.Pong.ClientTimeMs);
        var route = Assert.Single(await cluster.A.Services.GetRequiredService<RouteStore>().GetRouteAsync(user).WaitAsync(TestClient.Timeout));
        Assert.Equal(cluster.A.Id, route.ServerId);
    }

    [Fact]
    public async Task MessagesBetweenServersArriveInOrderExactlyOnceWithAcksAndReceipts()
    {
        long alice = await cluster.NewUserAsync(), bob = await cluster.NewUserAsync();
        await using var a = await TestClient.LoginAsync(cluster.A, alice);
        await using var b = await TestClient.LoginAsync(cluster.B, bob);
        const int count = 60;

        var acks = new List<SendAck>();
        var sends = Enumerable.Range(0, count).Select(i => a.SendMessageAsync(new Target { UserId = bob }, $"m{i}", $"text {i}")).ToList();
        var received = new List<ChatMessage>();
        for (var i = 0; i < count; i++)
        {
            var message = await b.WaitForDeliverAsync();
            received.Add(message);
            await b.SendAsync(new Envelope { DeliverAck = new DeliverAck { ConversationId = message.ConversationId, Seq = message.Seq } });
        }

        foreach (var send in sends)
        {
            acks.Add((await send.WaitAsync(TestClient.Timeout)).SendAck);
        }

        Assert.Equal(Enumerable.Range(1, count).Select(i => (long)i), acks.Select(x => x.Seq));
        Assert.All(acks, ack => Assert.False(ack.Duplicate));
        Assert.Equal(Enumerable.Range(1, count).Select(i => (long)i), received.Select(m => m.Seq));
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"m{i}"), received.Select(m => m.ClientMsgId));
        Assert.All(received, m => Assert.Equal((alice, "user" + alice), (m.SenderId, m.SenderName)));

        // The sender hears that everything arrived.
        var receipt = await a.WaitForAsync(e => e.BodyCase == Envelope.BodyOneofCase.Receipt && e.Receipt.Seq == count);
        Assert.Equal((bob, Receipt.Types.Kind.Delivered), (receipt.Receipt.UserId, receipt.Receipt.Kind));

        // A later message arrives after nothing else: no duplicate of the acknowledged ones was pushed.
        await a.SendMessageAsync(new Target { UserId = bob }, "marker", "marker").WaitAsync(TestClient.Timeout);
        await b.WaitForDeliverAsync(m => m.ClientMsgId == "marker");
        Assert.Empty(b.TakeDelivered());
    }

    [Fact]
    public async Task ARetriedSendGetsTheOriginalAckAndOneStoredCopy()
    {
        long alice = await cluster.NewUserAsync(), bob = await cluster.NewUserAsync();
        await using var a = await TestClient.LoginAsync(cluster.A, alice);

        var first = (await a.SendMessageAsync(new Target { UserId = bob }, "same-id", "hello")).SendAck;
        var retry = (await a.SendMessageAsync(new Target { UserId = bob }, "same-id", "hello")).SendAck;

        Assert.False(first.Duplicate);
        Assert.True(retry.Duplicate);
        Assert.Equal((first.Seq, first.ServerMsgId, first.ServerTimeMs), (retry.Seq, retry.ServerMsgId, retry.ServerTimeMs));
        var page = await a.RequestAsync(new Envelope { Sync = new SyncRequest { ConversationId = first.ConversationId } });
        Assert.Single(page.SyncResponse.Messages);
    }

    [Fact]
    public async Task AnUnacknowledgedMessageIsPushedAgainUntilAcknowledged()
    {
        long alice = await cluster.NewUserAsync(), bob = await cluster.NewUserAsync();
        await using var a = await TestClient.LoginAsync(cluster.A, alice);
        await using var b = await TestClient.LoginAsync(cluster.B, bob);

        await a.SendMessageAsync(new Target { UserId = bob }, "r1", "please ack");
        var first = await b.WaitForDeliverAsync();
        var again = await b.WaitForDeliverAsync();
        Assert.Equal(first.ServerMsgId, again.ServerMsgId);

        await b.SendAsync(new Envelope { DeliverAck = new DeliverAck { ConversationId = first.ConversationId, Seq = first.Seq } });
        var connection = Assert.Single(cluster.B.Sessions.ConnectionsOf(bob));
        await Until(() => connection.PendingDeliveryCount == 0);
    }

    [Fact]
    public async Task AnOfflineRecipientSyncsEverythingOnLogin()
    {
        long alice = await cluster.NewUserAsync(), carol = await cluster.NewUserAsync();
        await using var a = await TestClient.LoginAsync(cluster.A, alice);
        for (var i = 0; i < 7; i++)
        {
            var ack = await a.SendMessageAsync(new Target { UserId = carol }, $"o{i}", $"offline {i}");
            Assert.Equal(0, ack.SendAck.OnlineRecipients);
        }

        await using var c = await TestClient.LoginAsync(cluster.B, carol);
        var overview = (await c.RequestAsync(new Envelope { Sync = new SyncRequest() })).SyncResponse;
        var conversation = Assert.Single(overview.Conversations, s => s.ConversationId == ConversationIds.ForUsers(alice, carol));
        Assert.Equal((7L, 0L, 7L), (conversation.LastSeq, conversation.DeliveredSeq, conversation.Unread));
        Assert.Equal("offline 6", conversation.LastMessage.Body.ToStringUtf8());

        var first = (await c.RequestAsync(new Envelope { Sync = new SyncRequest { ConversationId = conversation.ConversationId, Limit = 4 } })).SyncResponse;
        var rest = (await c.RequestAsync(new Envelope { Sync = new SyncRequest { ConversationId = conversation.ConversationId, AfterSeq = first.Messages[^1].Seq, Limit = 4 } })).SyncResponse;
        Assert.True(first.HasMore);
        Assert.False(rest.HasMore);
        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"o{i}"), first.Messages.Concat(rest.Messages).Select(m => m.ClientMsgId));

        await c.SendAsync(new Envelope { Read = new ReadReceipt { ConversationId = conversation.ConversationId, Seq = 7 } });
        var read = await a.WaitForAsync(e => e.BodyCase == Envelope.BodyOneofCase.Receipt && e.Receipt.Kind == Receipt.Types.Kind.Read);
        Assert.Equal((carol, 7L), (read.Receipt.UserId, read.Receipt.Seq));
        var after = (await c.RequestAsync(new Envelope { Sync = new SyncRequest() })).SyncResponse;
        Assert.Equal(0, after.Conversations.Single(s => s.ConversationId == conversation.ConversationId).Unread);
    }

    [Fact]
    public async Task AGroupMessageReachesEveryOnlineMemberOnceOnBothServers()
    {
        long alice = await cluster.NewUserAsync(), bob = await cluster.NewUserAsync(), dave = await cluster.NewUserAsync(), outsider = await cluster.NewUserAsync();
        var groups = cluster.A.Services.GetRequiredService<GroupStore>();
        var group = await groups.CreateAsync("team", alice).WaitAsync(TestClient.Timeout);
        await groups.JoinAsync(group.GroupId, bob).WaitAsync(TestClient.Timeout);
        await groups.JoinAsync(group.GroupId, dave).WaitAsync(TestClient.Timeout);
        await using var a = await TestClient.LoginAsync(cluster.A, alice);
        await using var b = await TestClient.LoginAsync(cluster.B, bob);
        await using var d = await TestClient.LoginAsync(cluster.A, dave);
        await using var o = await TestClient.LoginAsync(cluster.B, outsider);

        var ack = (await a.SendMessageAsync(new Target { GroupId = group.GroupId }, "g1", "hi team")).SendAck;
        Assert.Equal(2, ack.OnlineRecipients);
        foreach (var member in new[] { b, d })
        {
            var message = await member.WaitForDeliverAsync();
            Assert.Equal((ConversationIds.ForGroup(group.GroupId), 1L, "hi team"), (message.ConversationId, message.Seq, message.Body.ToStringUtf8()));
            await member.SendAsync(new Envelope { DeliverAck = new DeliverAck { ConversationId = message.ConversationId, Seq = message.Seq } });
        }

        var refused = await o.SendMessageAsync(new Target { GroupId = group.GroupId }, "x", "let me in");
        Assert.Equal(ErrorCode.NotAMember, refused.Error.Code);
        Assert.False(refused.Error.Fatal);
        Assert.Empty(o.TakeDelivered());
    }

    [Fact]
    public async Task TypingNoticesAreRelayedButNeverStored()
    {
        long alice = await cluster.NewUserAsync(), bob = await cluster.NewUserAsync();
        await using var a = await TestClient.LoginAsync(cluster.A, alice);
        await using var b = await TestClient.LoginAsync(cluster.B, bob);

        await a.SendAsync(new Envelope { Notice = new Notice { Typing = new Typing { To = new Target { UserId = bob }, Typing_ = true } } });
        var typing = await b.WaitForAsync(e => e.BodyCase == Envelope.BodyOneofCase.Notice && e.Notice.KindCase == Notice.KindOneofCase.Typing);
        Assert.Equal((alice, true), (typing.Notice.Typing.FromUserId, typing.Notice.Typing.Typing_));

        var transient = await a.RequestAsync(new Envelope { Send = new SendRequest { ClientMsgId = "t1", To = new Target { UserId = bob }, Transient = true, Body = ByteString.CopyFromUtf8("poke") } });
        Assert.Equal((0L, 1), (transient.SendAck.Seq, transient.SendAck.OnlineRecipients));
        var relayed = await b.WaitForAsync(e => e.BodyCase == Envelope.BodyOneofCase.Notice && e.Notice.KindCase == Notice.KindOneofCase.Transient);
        Assert.Equal("poke", relayed.Notice.Transient.Body.ToStringUtf8());

        var history = await b.RequestAsync(new Envelope { Sync = new SyncRequest { ConversationId = ConversationIds.ForUsers(alice, bob) } });
        Assert.Empty(history.SyncResponse.Messages);
    }

    [Fact]
    public async Task SendingToAnUnknownUserIsRefusedWithoutClosing()
    {
        var alice = await cluster.NewUserAsync();
        await using var a = await TestClient.LoginAsync(cluster.A, alice);

        var refused = await a.SendMessageAsync(new Target { UserId = 9_999_999_999 }, "u1", "anyone?");
        Assert.Equal((ErrorCode.UnknownRecipient, false), (refused.Error.Code, refused.Error.Fatal));
        var tooBig = await a.RequestAsync(new Envelope { Send = new SendRequest { ClientMsgId = "big", To = new Target { UserId = alice }, Body = ByteString.CopyFrom(new byte[70_000]) } });
        Assert.Equal(ErrorCode.PayloadTooLarge, tooBig.Error.Code);
        Assert.Equal(Envelope.BodyOneofCase.Pong, (await a.RequestAsync(new Envelope { Ping = new Ping() })).BodyCase);
    }

    [Fact]
    public async Task ALoginOnAnotherServerKicksTheOldConnectionAndTakesTheRoute()
    {
        var user = await cluster.NewUserAsync();
        await using var first = await TestClient.LoginAsync(cluster.A, user);
        await using var second = await TestClient.LoginAsync(cluster.B, user);

        var kick = await first.WaitForAsync(e => e.BodyCase == Envelope.BodyOneofCase.Kick);
        Assert.Equal(Kick.Types.Reason.Replaced, kick.Kick.Reason);
        await first.Closed.Task.WaitAsync(TestClient.Timeout);
        await Until(() => cluster.A.Sessions.ConnectionsOf(user).Count == 0);
        var route = Assert.Single(await cluster.A.Services.GetRequiredService<RouteStore>().GetRouteAsync(user).WaitAsync(TestClient.Timeout));
        Assert.Equal(cluster.B.Id, route.ServerId);
    }

    internal static async Task Until(Func<bool> condition)
    {
        using var cts = new CancellationTokenSource(TestClient.Timeout);
        while (!condition())
        {
            await Task.Delay(20, cts.Token);
        }
    }
}

public sealed class EveryoneRoomTests(TwoServerFixture cluster) : IClassFixture<TwoServerFixture>
{
    private static Task Until(Func<bool> condition) => CrossServerDeliveryTests.Until(condition);

    [Fact]
    public async Task TheEveryoneRoomReachesUsersOnEveryServerButNotTheSender()
    {
        long alice = await cluster.NewUserAsync(), bob = await cluster.NewUserAsync(), dave = await cluster.NewUserAsync();
        await using var a = await TestClient.LoginAsync(cluster.A, alice);
        await using var b = await TestClient.LoginAsync(cluster.B, bob);
        await using var d = await TestClient.LoginAsync(cluster.A, dave);

        var ack = (await a.SendMessageAsync(new Target { GroupId = ConversationIds.EveryoneGroupId }, "all-1", "hello all")).SendAck;
        Assert.Equal(ConversationIds.ForGroup(ConversationIds.EveryoneGroupId), ack.ConversationId);

        foreach (var member in new[] { b, d })
        {
            var message = await member.WaitForDeliverAsync(m => m.ClientMsgId == "all-1");
            Assert.Equal(ack.Seq, message.Seq);
            await member.SendAsync(new Envelope { DeliverAck = new DeliverAck { ConversationId = message.ConversationId, Seq = message.Seq } });
        }

        // The sender gets no copy of its own message: the next thing it receives is the reply to its ping.
        Assert.Equal(Envelope.BodyOneofCase.Pong, (await a.RequestAsync(new Envelope { Ping = new Ping() })).BodyCase);
        Assert.Empty(a.TakeDelivered());
    }

    [Fact]
    public async Task ADrainRequestOnTheServerChannelSendsItsClientsAway()
    {
        // Drain server B through its channel, as the route API's admin endpoint does; A keeps serving.
        var user = await cluster.NewUserAsync();
        var other = await cluster.NewUserAsync();
        await using var onB = await TestClient.LoginAsync(cluster.B, user);
        await using var onA = await TestClient.LoginAsync(cluster.A, other);
        var dispatcher = cluster.A.Services.GetRequiredService<CimAspire.Delivery.Dispatch.MessageDispatcher>();

        await dispatcher.KickAllAsync(cluster.B.Id, new Kick { Reason = Kick.Types.Reason.Draining }).WaitAsync(TestClient.Timeout);

        var kick = await onB.WaitForAsync(e => e.BodyCase == Envelope.BodyOneofCase.Kick);
        Assert.Equal(Kick.Types.Reason.Draining, kick.Kick.Reason);
        await onB.Closed.Task.WaitAsync(TestClient.Timeout);
        await Until(() => cluster.B.Sessions.ConnectionsOf(user).Count == 0);
        Assert.Equal(Envelope.BodyOneofCase.Pong, (await onA.RequestAsync(new Envelope { Ping = new Ping() })).BodyCase);
        var loads = await cluster.A.Services.GetRequiredService<RouteStore>().GetLoadsAsync().WaitAsync(TestClient.Timeout);
        Assert.Equal(int.MaxValue, loads[cluster.B.Id]);
    }
}
