using CimAspire.Delivery.Groups;
using CimAspire.Protocol;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;

namespace CimAspire.Tests.ImServer;

/// <summary>Leaving a group takes effect at once, also on connections opened (and checked) while the user was a member.</summary>
public sealed class GroupMembershipTests(TwoServerFixture fixture) : IClassFixture<TwoServerFixture>
{
    [Fact]
    public async Task AUserWhoLeftAGroupCanNoLongerSendToItOrSyncItOnAConnectionOpenedBefore()
    {
        var groups = fixture.A.Services.GetRequiredService<GroupStore>();
        long ownerId = await fixture.NewUserAsync(), leaverId = await fixture.NewUserAsync();
        var group = await groups.CreateAsync("leavers", ownerId).WaitAsync(TestClient.Timeout);
        await groups.JoinAsync(group.GroupId, leaverId).WaitAsync(TestClient.Timeout);
        var to = new Target { GroupId = group.GroupId };
        var conversation = ConversationIds.ForGroup(group.GroupId);

        await using var owner = await TestClient.LoginAsync(fixture.B, ownerId);
        await using var leaver = await TestClient.LoginAsync(fixture.A, leaverId);

        // As a member: the connection verifies (and remembers) the membership for sends, notices and syncs.
        Assert.Equal(Envelope.BodyOneofCase.SendAck, (await leaver.SendMessageAsync(to, "before", "still in")).BodyCase);
        Assert.Equal("before", (await owner.WaitForDeliverAsync(m => m.ClientMsgId == "before")).ClientMsgId);
        Assert.Equal(1, (await SendTransientAsync(leaver, to, "t-before")).SendAck.OnlineRecipients);
        Assert.Equal(Envelope.BodyOneofCase.SyncResponse, (await SyncAsync(leaver, conversation)).BodyCase);

        Assert.Equal(GroupChange.Changed, await groups.LeaveAsync(group.GroupId, leaverId).WaitAsync(TestClient.Timeout));

        // Still remembered as a member here: the fan-out's member list leaves the leaver's notice without recipients,
        // and the store refuses the message (after which the connection forgets the group).
        Assert.Equal(0, (await SendTransientAsync(leaver, to, "t-after")).SendAck.OnlineRecipients);
        var send = await leaver.SendMessageAsync(to, "after", "let me back");
        Assert.Equal((Envelope.BodyOneofCase.Error, ErrorCode.NotAMember), (send.BodyCase, send.Error.Code));
        Assert.False(send.Error.Fatal);
        var sync = await SyncAsync(leaver, conversation);
        Assert.Equal((Envelope.BodyOneofCase.Error, ErrorCode.NotAMember), (sync.BodyCase, sync.Error?.Code ?? ErrorCode.Unspecified));

        // Nothing of the leaver's was stored after the leave; the group carries on for its members.
        var page = (await SyncAsync(owner, conversation)).SyncResponse;
        Assert.Equal(["before"], page.Messages.Select(m => m.ClientMsgId));
        Assert.Equal(Envelope.BodyOneofCase.SendAck, (await owner.SendMessageAsync(to, "owner-after", "bye")).BodyCase);
        Assert.DoesNotContain(owner.Frames, f => f.Notice?.Transient?.ClientMsgId == "t-after");
        Assert.False(leaver.Closed.Task.IsCompleted);
    }

    private static Task<Envelope> SyncAsync(TestClient client, string conversationId)
        => client.RequestAsync(new Envelope { Sync = new SyncRequest { ConversationId = conversationId } });

    private static Task<Envelope> SendTransientAsync(TestClient client, Target to, string clientMsgId)
        => client.RequestAsync(new Envelope
        {
            Send = new SendRequest { ClientMsgId = clientMsgId, To = to, Body = ByteString.CopyFromUtf8("typing-ish"), Transient = true },
        });
}
