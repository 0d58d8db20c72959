using System.Net;
using CimAspire.Delivery;
using CimAspire.Delivery.Messages;
using CimAspire.Delivery.Routes;
using CimAspire.Protocol;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CimAspire.Tests.Route;

[Collection(RouteApiCollection.Name)]
public class MessagesApiTests(RouteApiFixture fixture)
{
    private readonly HttpClient _http = fixture.Api.CreateClient();

    private RouteStore Routes => fixture.Api.Services.GetRequiredService<RouteStore>();

    private async Task<SendMessageResponse> SendAsync(string token, SendMessageRequest request)
    {
        using var response = await _http.SendAsync(HttpMethod.Post, RouteApiPaths.Messages, token, request);
        return await response.ReadAsync<SendMessageResponse>();
    }

    private async Task<HistoryPage> HistoryAsync(string token, string conversationId, string query = "")
    {
        using var response = await _http.SendAsync(HttpMethod.Get, $"/api/conversations/{conversationId}/messages{query}", token);
        return await response.ReadAsync<HistoryPage>();
    }

    [Fact]
    public async Task ASendToAnOnlineUserReachesTheirServerAndSaysTheyWereOnline()
    {
        var alice = await _http.NewUserAsync("alice");
        var bob = await _http.NewUserAsync("bob");

        var offline = await SendAsync(alice.Token, new SendMessageRequest(bob.UserId, null, "are you there?", null));
        Assert.False(offline.RecipientOnline);
        Assert.Equal(ConversationIds.ForUsers(alice.UserId, bob.UserId), offline.ConversationId);
        Assert.False(offline.Duplicate);

        await Routes.ClaimAsync(bob.UserId, fixture.Server.Id, RouteClaimMode.Shared).WaitAsync(RouteApiTestExtensions.Timeout);
        await using var channel = await ServerChannelProbe.StartAsync(fixture.Api.Services, fixture.Server.Id);
        var online = await SendAsync(alice.Token, new SendMessageRequest(bob.UserId, null, "hello bob", "c-1"));
        Assert.True(online.RecipientOnline);
        Assert.Equal(offline.Seq + 1, online.Seq);

        var delivered = await channel.WaitForAsync(d => d.Message?.ServerMsgId == online.ServerMsgId);
        Assert.Equal([bob.UserId], delivered.RecipientIds);
        Assert.Equal("hello bob", delivered.Message.Body.ToStringUtf8());
        Assert.Equal(alice.UserName, delivered.Message.SenderName);
    }

    [Fact]
    public async Task HistoryOfBigMessagesComesInPagesBoundedInBytesThatReachTheOldest()
    {
        var alice = await _http.NewUserAsync("big-a");
        var bob = await _http.NewUserAsync("big-b");
        var store = fixture.Api.Services.GetRequiredService<MessageStore>();
        var options = fixture.Api.Services.GetRequiredService<IOptions<DeliveryOptions>>().Value;
        var text = new string('x', options.MaxBodyBytes);
        const int Count = 64;
        for (var i = 0; i < Count; i++)
        {
            await store.AppendAsync(new AppendRequest(alice.UserId, alice.UserName, new Target { UserId = bob.UserId }, $"big-{i}",
                ContentType.Text, ByteString.CopyFromUtf8(text))).WaitAsync(RouteApiTestExtensions.Timeout);
        }

        var conversation = ConversationIds.ForUsers(alice.UserId, bob.UserId);
        var seqs = new List<long>();
        var query = $"?limit={store.MaxPageSize}";
        for (var pages = 0; ; pages++)
        {
            Assert.True(pages < Count, "Paging did not end.");
            var page = await HistoryAsync(bob.Token, conversation, query);
            Assert.NotEmpty(page.Messages);
            var bytes = page.Messages.Sum(m => (long)m.Text.Length);
            Assert.True(bytes <= options.MaxPageBytes, $"A page of {page.Messages.Count} messages carried {bytes} bytes of text.");
            seqs.InsertRange(0, page.Messages.Select(m => m.Seq));
            if (!page.HasMore)
            {
                break;
            }

            query = $"?limit={store.MaxPageSize}&beforeSeq={page.Messages[0].Seq}";
        }

        Assert.Equal(Enumerable.Range(1, Count).Select(i => (long)i), seqs);
    }

    [Fact]
    public async Task ARetriedClientMessageIdIsStoredOnce()
    {
        var alice = await _http.NewUserAsync("retry-a");
        var bob = await _http.NewUserAsync("retry-b");
        var first = await SendAsync(alice.Token, new SendMessageRequest(bob.UserId, null, "once", "same-id"));
        var second = await SendAsync(alice.Token, new SendMessageRequest(bob.UserId, null, "once", "same-id"));
        Assert.True(second.Duplicate);
        Assert.Equal(first.Seq, second.Seq);
        Assert.Equal(first.ServerMsgId, second.ServerMsgId);
        Assert.Single((await HistoryAsync(bob.Token, first.ConversationId)).Messages);
    }

    [Fact]
    public async Task HistoryPagesBackwardsBySequenceAndConversationsCountUnread()
    {
        var alice = await _http.NewUserAsync("hist-a");
        var bob = await _http.NewUserAsync("hist-b");
        for (var i = 1; i <= 5; i++)
        {
            await SendAsync(alice.Token, new SendMessageRequest(bob.UserId, null, $"message {i}", $"m{i}"));
        }

        var conversation = ConversationIds.ForUsers(alice.UserId, bob.UserId);
        var newest = await HistoryAsync(bob.Token, conversation, "?limit=2");
        Assert.Equal(["message 4", "message 5"], newest.Messages.Select(m => m.Text));
        Assert.True(newest.HasMore);
        Assert.All(newest.Messages, m => Assert.Equal(alice.UserId, m.SenderId));

        var older = await HistoryAsync(bob.Token, conversation, $"?beforeSeq={newest.Messages[0].Seq}&limit=10");
        Assert.Equal(["message 1", "message 2", "message 3"], older.Messages.Select(m => m.Text));
        Assert.False(older.HasMore);
        Assert.Equal(5, (await HistoryAsync(alice.Token, conversation)).Messages.Count);

        using var list = await _http.SendAsync(HttpMethod.Get, RouteApiPaths.Conversations, bob.Token);
        var conversations = await list.ReadAsync<ConversationDto[]>();
        var withAlice = Assert.Single(conversations, c => c.ConversationId == conversation);
        Assert.Equal(alice.UserId, withAlice.PeerUserId);
        Assert.Equal(alice.UserName, withAlice.Title);
        Assert.Equal(5, withAlice.LastSeq);
        Assert.Equal(5, withAlice.Unread);
        Assert.Equal("message 5", withAlice.LastMessage?.Text);
        Assert.Contains(conversations, c => c.GroupId == ConversationIds.EveryoneGroupId);
    }

    [Fact]
    public async Task OnlyMembersReadAConversation()
    {
        var alice = await _http.NewUserAsync("priv-a");
        var bob = await _http.NewUserAsync("priv-b");
        var eve = await _http.NewUserAsync("priv-eve");
        var sent = await SendAsync(alice.Token, new SendMessageRequest(bob.UserId, null, "secret", null));

        using var spy = await _http.SendAsync(HttpMethod.Get, $"/api/conversations/{sent.ConversationId}/messages", eve.Token);
        await spy.AssertProblemAsync(HttpStatusCode.Forbidden);

        using var created = await _http.SendAsync(HttpMethod.Post, RouteApiPaths.Groups, alice.Token, new CreateGroupRequest("inner circle"));
        var group = await created.ReadAsync<GroupDto>(HttpStatusCode.Created);
        var groupSent = await SendAsync(alice.Token, new SendMessageRequest(null, group.GroupId, "group secret", null));
        Assert.Equal(ConversationIds.ForGroup(group.GroupId), groupSent.ConversationId);
        using var outsider = await _http.SendAsync(HttpMethod.Get, $"/api/conversations/{groupSent.ConversationId}/messages", eve.Token);
        await outsider.AssertProblemAsync(HttpStatusCode.Forbidden);
        using var outsiderSend = await _http.SendAsync(HttpMethod.Post, RouteApiPaths.Messages, eve.Token, new SendMessageRequest(null, group.GroupId, "let me in", null));
        await outsiderSend.AssertProblemAsync(HttpStatusCode.Forbidden);
        Assert.Equal(["group secret"], (await HistoryAsync(alice.Token, groupSent.ConversationId)).Messages.Select(m => m.Text));

        using var unknownGroup = await _http.SendAsync(HttpMethod.Get, "/api/conversations/g99999999/messages", eve.Token);
        await unknownGroup.AssertProblemAsync(HttpStatusCode.NotFound);
        using var badId = await _http.SendAsync(HttpMethod.Get, "/api/conversations/x123/messages", eve.Token);
        await badId.AssertProblemAsync(HttpStatusCode.BadRequest);
        using var badLimit = await _http.SendAsync(HttpMethod.Get, $"/api/conversations/{sent.ConversationId}/messages?limit=0", alice.Token);
        await badLimit.AssertProblemAsync(HttpStatusCode.BadRequest);
        using var badBefore = await _http.SendAsync(HttpMethod.Get, $"/api/conversations/{sent.ConversationId}/messages?beforeSeq=0", alice.Token);
        await badBefore.AssertProblemAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task TheEveryoneRoomTakesMessagesFromAnyUserAndReachesEveryServer()
    {
        var user = await _http.NewUserAsync("shout");
        await using var channel = await ServerChannelProbe.StartAsync(fixture.Api.Services, fixture.Server.Id);
        // The everyone room goes to every server that reports load.
        await Routes.ReportLoadAsync(fixture.Server.Id, 1).WaitAsync(RouteApiTestExtensions.Timeout);
        var sent = await SendAsync(user.Token, new SendMessageRequest(null, ConversationIds.EveryoneGroupId, "hello all", null));
        Assert.Equal("g0", sent.ConversationId);
        var delivered = await channel.WaitForAsync(d => d.Message?.ServerMsgId == sent.ServerMsgId);
        Assert.True(delivered.AllUsers);
        Assert.Contains(user.UserId, delivered.ExcludeUserIds);
    }

    [Theory]
    [InlineData("{\"text\": \"hi\"}", "userId")]
    [InlineData("{\"userId\": 1, \"groupId\": 1, \"text\": \"hi\"}", "userId")]
    [InlineData("{\"userId\": 1}", "text")]
    [InlineData("{\"userId\": 1, \"text\": \"\"}", "text")]
    public async Task BadSendsAre400WithTheField(string json, string field)
    {
        var user = await _http.NewUserAsync("badsend");
        using var response = await _http.SendAsync(HttpMethod.Post, RouteApiPaths.Messages, user.Token, rawJson: json);
        Assert.True((await response.AssertProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").TryGetProperty(field, out _));
    }

    [Fact]
    public async Task SendsToNobodyAre404AndOversizedTextIs400()
    {
        var user = await _http.NewUserAsync("nobody");
        using var toUser = await _http.SendAsync(HttpMethod.Post, RouteApiPaths.Messages, user.Token, new SendMessageRequest(987654321, null, "hi", null));
        await toUser.AssertProblemAsync(HttpStatusCode.NotFound);
        using var toGroup = await _http.SendAsync(HttpMethod.Post, RouteApiPaths.Messages, user.Token, new SendMessageRequest(null, 987654321, "hi", null));
        await toGroup.AssertProblemAsync(HttpStatusCode.NotFound);
        using var big = await _http.SendAsync(HttpMethod.Post, RouteApiPaths.Messages, user.Token, new SendMessageRequest(user.UserId, null, new string('x', 70_000), null));
        Assert.Contains("bytes", (await big.AssertProblemAsync(HttpStatusCode.BadRequest)).Detail());
        using var anonymous = await _http.SendAsync(HttpMethod.Post, RouteApiPaths.Messages, body: new SendMessageRequest(user.UserId, null, "hi", null));
        await anonymous.AssertProblemAsync(HttpStatusCode.Unauthorized);
    }
}
