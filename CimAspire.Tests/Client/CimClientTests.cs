using System.Diagnostics;
using CimAspire.Client;
using CimAspire.Protocol;
using CimAspire.Tests.Client.Fakes;
using Google.Protobuf;

namespace CimAspire.Tests.Client;

/// <summary>The SDK against a fake route API (real HTTP) and fake IM servers (real TCP) that can misbehave on purpose.</summary>
public sealed class CimClientTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly List<CimClient> _clients = [];
    private readonly List<IDisposable> _disposables = [];
    private FakeCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await FakeCluster.StartAsync(servers: 2);

    public async Task DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync().AsTask().WaitAsync(Timeout);
        }

        foreach (var disposable in _disposables)
        {
            disposable.Dispose();
        }

        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task Login_connects_to_the_assigned_server_and_goes_online()
    {
        var (alice, probe) = await OnlineAsync("alice");

        Assert.Equal(ConnectionState.Online, alice.State);
        Assert.Equal([ConnectionState.Connecting, ConnectionState.Online], probe.States);
        Assert.Equal("alice", alice.UserName);
        Assert.True(alice.UserId > 0);
        Assert.Equal(_cluster.ServerOf(alice.UserId)!.ServerId, alice.Server!.ServerId);
        var login = _cluster.ServerOf(alice.UserId)!.ReceivedOfType(Envelope.BodyOneofCase.Login).Single();
        Assert.Equal("cim-test", login.Login.Client);
    }

    [Fact]
    public async Task A_disconnected_session_resumes_from_its_ticket_until_it_is_logged_out()
    {
        var (alice, _) = await OnlineAsync("alice");
        var ticket = alice.Ticket!;
        Assert.True(ticket.ExpiresAt > DateTimeOffset.UtcNow);
        Assert.DoesNotContain(ticket.Token, ticket.ToString(), StringComparison.Ordinal);

        await alice.DisconnectAsync().WaitAsync(Timeout);
        Assert.Equal(ConnectionState.Offline, alice.State);
        Assert.DoesNotContain(_cluster.Route!.Requests, r => r.Path == "/api/sessions/logout");

        var resumed = NewClient();
        var probe = new ClientProbe(resumed);
        await resumed.ResumeAsync(ticket.Token).WaitAsync(Timeout);
        Assert.Equal((ConnectionState.Online, alice.UserId, "alice"), (resumed.State, resumed.UserId, resumed.UserName));
        var (bob, _) = await OnlineAsync("bob");
        await bob.SendAsync(new Target { UserId = resumed.UserId }, "welcome back").WaitAsync(Timeout);
        await probe.WaitForMessagesAsync(1);

        await resumed.LogoutAsync().WaitAsync(Timeout);
        var late = NewClient();
        var error = await Assert.ThrowsAsync<CimApiException>(() => late.ResumeAsync(ticket.Token).WaitAsync(Timeout));
        Assert.Equal(401, error.StatusCode);
        Assert.Equal(ConnectionState.Offline, late.State);
    }

    [Fact]
    public async Task A_wrong_password_is_a_clear_api_error_and_leaves_the_client_offline()
    {
        var client = NewClient();
        await client.RegisterAsync("carol", "secret").WaitAsync(Timeout);

        var error = await Assert.ThrowsAsync<CimApiException>(() => client.LoginAsync("carol", "wrong").WaitAsync(Timeout));

        Assert.Equal(401, error.StatusCode);
        Assert.Equal("Login failed", error.Title);
        Assert.Equal("Unknown user or wrong password.", error.Detail);
        Assert.Equal(ConnectionState.Offline, client.State);
        var taken = await Assert.ThrowsAsync<CimApiException>(() => client.RegisterAsync("carol", "x").WaitAsync(Timeout));
        Assert.Equal(409, taken.StatusCode);
    }

    [Fact]
    public async Task A_direct_message_is_acknowledged_and_received_once_by_the_peer()
    {
        var (alice, _) = await OnlineAsync("alice");
        var (bob, bobProbe) = await OnlineAsync("bob");

        var result = await alice.SendAsync(new Target { UserId = bob.UserId }, "hello bob").WaitAsync(Timeout);
        await bobProbe.WaitForMessagesAsync(1);

        Assert.Equal(ConversationIds.ForUsers(alice.UserId, bob.UserId), result.ConversationId);
        Assert.Equal(1, result.Seq);
        Assert.False(result.Duplicate);
        var received = Assert.Single(bobProbe.Messages);
        Assert.Equal("hello bob", received.Body.ToStringUtf8());
        Assert.Equal("alice", received.SenderName);
        Assert.Equal(result.ServerMsgId, received.ServerMsgId);
        Assert.Equal(1, bob.LastSeq(result.ConversationId));
        Assert.Equal(1, alice.LastSeq(result.ConversationId));

        // Receipt of the delivery is acknowledged to the server.
        await WaitUntilAsync(() => _cluster.DeliveredSeq(bob.UserId, result.ConversationId) == 1);
    }

    [Fact]
    public async Task Everyone_room_messages_reach_the_others_in_order_and_not_the_sender()
    {
        var (alice, aliceProbe) = await OnlineAsync("alice");
        var (_, bobProbe) = await OnlineAsync("bob");
        var (_, carolProbe) = await OnlineAsync("carol");
        var room = new Target { GroupId = ConversationIds.EveryoneGroupId };

        for (var i = 1; i <= 5; i++)
        {
            await alice.SendAsync(room, $"m{i}").WaitAsync(Timeout);
        }

        await bobProbe.WaitForMessagesAsync(5);
        await carolProbe.WaitForMessagesAsync(5);
        Assert.Equal(["m1", "m2", "m3", "m4", "m5"], bobProbe.Texts);
        Assert.Equal(["m1", "m2", "m3", "m4", "m5"], carolProbe.Texts);
        Assert.Empty(aliceProbe.Messages);
        Assert.Equal(5, alice.LastSeq("g0"));
    }

    [Fact]
    public async Task A_lost_ack_is_retried_with_the_same_client_message_id_and_stored_once()
    {
        var (alice, _) = await OnlineAsync("alice", o => o with { AckTimeout = TimeSpan.FromMilliseconds(300) });
        var (bob, bobProbe) = await OnlineAsync("bob");
        var server = _cluster.ServerOf(alice.UserId)!;
        server.DropNextAcks(1);

        var result = await alice.SendAsync(new Target { UserId = bob.UserId }, "once", clientMsgId: "fixed-id").WaitAsync(Timeout);

        Assert.True(result.Duplicate);
        Assert.Equal("fixed-id", result.ClientMsgId);
        var sends = server.ReceivedOfType(Envelope.BodyOneofCase.Send).ToList();
        Assert.Equal(2, sends.Count);
        Assert.All(sends, s => Assert.Equal("fixed-id", s.Send.ClientMsgId));
        Assert.NotEqual(sends[0].RequestId, sends[1].RequestId);
        Assert.Single(_cluster.MessagesOf(result.ConversationId));
        await bobProbe.WaitForMessagesAsync(1);
        Assert.Single(bobProbe.Messages);
    }

    [Fact]
    public async Task A_send_without_any_ack_gives_up_after_the_configured_attempts()
    {
        var (alice, _) = await OnlineAsync("alice", o => o with { AckTimeout = TimeSpan.FromMilliseconds(200), MaxSendAttempts = 3 });
        var (bob, _) = await OnlineAsync("bob");
        _cluster.ServerOf(alice.UserId)!.DropNextAcks(int.MaxValue);

        var error = await Assert.ThrowsAsync<CimSendException>(
            () => alice.SendAsync(new Target { UserId = bob.UserId }, "lost").WaitAsync(Timeout));

        Assert.True(error.TimedOut);
        Assert.Equal(ErrorCode.Unavailable, error.Code);
        Assert.Equal(3, error.Attempts);
        Assert.Single(_cluster.MessagesOf(ConversationIds.ForUsers(alice.UserId, bob.UserId)));
    }

    [Fact]
    public async Task A_server_error_fails_the_send_with_its_code_without_retrying()
    {
        var (alice, _) = await OnlineAsync("alice");
        var server = _cluster.ServerOf(alice.UserId)!;

        var notMember = await Assert.ThrowsAsync<CimSendException>(
            () => alice.SendAsync(new Target { GroupId = 99 }, "hi").WaitAsync(Timeout));
        Assert.Equal(ErrorCode.NotAMember, notMember.Code);
        Assert.Equal(1, notMember.Attempts);
        Assert.False(notMember.TimedOut);

        server.RefuseSends = ErrorCode.PayloadTooLarge;
        var tooLarge = await Assert.ThrowsAsync<CimSendException>(
            () => alice.SendAsync(new Target { GroupId = 0 }, "big").WaitAsync(Timeout));
        Assert.Equal(ErrorCode.PayloadTooLarge, tooLarge.Code);
        Assert.Equal(2, server.ReceivedOfType(Envelope.BodyOneofCase.Send).Count());
    }

    [Fact]
    public async Task Duplicate_deliveries_are_raised_once()
    {
        var (alice, _) = await OnlineAsync("alice");
        var (bob, bobProbe) = await OnlineAsync("bob");
        foreach (var server in _cluster.Servers)
        {
            server.DuplicateDelivers = true;
        }

        for (var i = 1; i <= 3; i++)
        {
            await alice.SendAsync(new Target { UserId = bob.UserId }, $"d{i}").WaitAsync(Timeout);
        }

        await bobProbe.WaitForMessagesAsync(3);
        await alice.SendAsync(new Target { UserId = bob.UserId }, "d4").WaitAsync(Timeout);
        await bobProbe.WaitForMessagesAsync(4);
        Assert.Equal(["d1", "d2", "d3", "d4"], bobProbe.Texts);
    }

    [Fact]
    public async Task Out_of_order_deliveries_are_raised_in_sequence_order()
    {
        var (alice, _) = await OnlineAsync("alice");
        var (bob, bobProbe) = await OnlineAsync("bob");
        var to = new Target { UserId = bob.UserId };
        var stored = Enumerable.Range(1, 3).Select(i => _cluster.StoreText(alice.UserId, to, $"o{i}")).ToList();
        var server = _cluster.ServerOf(bob.UserId)!;

        foreach (var index in new[] { 2, 0, 1 })
        {
            await server.PushAsync(bob.UserId, new Envelope { Deliver = new Deliver { Message = stored[index] } });
        }

        await bobProbe.WaitForMessagesAsync(3);
        Assert.Equal(["o1", "o2", "o3"], bobProbe.Texts);
    }

    [Fact]
    public async Task A_hole_in_the_sequence_is_filled_by_a_sync()
    {
        var (alice, _) = await OnlineAsync("alice");
        var (bob, bobProbe) = await OnlineAsync("bob", o => o with { GapSyncDelay = TimeSpan.FromMilliseconds(100) });
        var to = new Target { UserId = bob.UserId };
        var stored = Enumerable.Range(1, 3).Select(i => _cluster.StoreText(alice.UserId, to, $"g{i}")).ToList();
        var server = _cluster.ServerOf(bob.UserId)!;

        await server.PushAsync(bob.UserId, new Envelope { Deliver = new Deliver { Message = stored[0] } });
        await server.PushAsync(bob.UserId, new Envelope { Deliver = new Deliver { Message = stored[2] } });

        await bobProbe.WaitForMessagesAsync(3);
        Assert.Equal(["g1", "g2", "g3"], bobProbe.Texts);
        Assert.Contains(server.ReceivedOfType(Envelope.BodyOneofCase.Sync), s => s.Sync.ConversationId == stored[0].ConversationId && s.Sync.AfterSeq == 1);
    }

    [Fact]
    public async Task A_sync_hint_makes_the_client_find_what_was_stored_without_a_push_and_stay_connected()
    {
        var (alice, _) = await OnlineAsync("alice");
        var (bob, bobProbe) = await OnlineAsync("bob");
        var to = new Target { UserId = bob.UserId };
        var server = _cluster.ServerOf(bob.UserId)!;
        var stored = Enumerable.Range(1, 2).Select(i => _cluster.StoreText(alice.UserId, to, $"h{i}")).ToList();

        await server.PushAsync(bob.UserId, new Envelope { SyncHint = new SyncHint { Reason = SyncHint.Types.Reason.SubscriptionRestored, SpreadMs = 50 } });

        await bobProbe.WaitForMessagesAsync(2);
        Assert.Equal(["h1", "h2"], bobProbe.Texts);
        Assert.Contains(server.ReceivedOfType(Envelope.BodyOneofCase.Sync), s => s.Sync.ConversationId == stored[0].ConversationId);
        Assert.Equal(ConnectionState.Online, bob.State);
        Assert.Equal([ConnectionState.Connecting, ConnectionState.Online], bobProbe.States);
    }

    [Fact]
    public async Task Messages_sent_while_offline_are_synced_page_by_page_on_login()
    {
        var (alice, _) = await OnlineAsync("alice");
        var bob = NewClient(o => o with { SyncPageSize = 3 });
        var bobAccount = await bob.RegisterAsync("bob", "pw").WaitAsync(Timeout);
        for (var i = 1; i <= 7; i++)
        {
            await alice.SendAsync(new Target { UserId = bobAccount.UserId }, $"s{i}").WaitAsync(Timeout);
        }

        var bobProbe = new ClientProbe(bob);
        await bob.LoginAsync("bob", "pw").WaitAsync(Timeout);

        // Everything missed is raised before LoginAsync completes.
        Assert.Equal(["s1", "s2", "s3", "s4", "s5", "s6", "s7"], bobProbe.Texts);
        var conversation = ConversationIds.ForUsers(alice.UserId, bob.UserId);
        var pages = _cluster.ServerOf(bob.UserId)!.ReceivedOfType(Envelope.BodyOneofCase.Sync).Where(s => s.Sync.ConversationId == conversation).ToList();
        Assert.Equal([0L, 3L, 6L], pages.Select(p => p.Sync.AfterSeq));
        await WaitUntilAsync(() => _cluster.DeliveredSeq(bob.UserId, conversation) == 7);
    }

    [Fact]
    public async Task When_its_server_dies_the_client_refreshes_lands_on_the_other_server_and_syncs()
    {
        var (alice, _) = await OnlineAsync("alice");
        var (bob, bobProbe) = await OnlineAsync("bob");
        var lost = _cluster.ServerOf(bob.UserId)!;
        var to = new Target { UserId = bob.UserId };
        await alice.SendAsync(to, "before").WaitAsync(Timeout);
        await bobProbe.WaitForMessagesAsync(1);
        var sendWhileDown = alice.SendAsync(to, "after").WaitAsync(Timeout);

        lost.Kill();
        await bobProbe.WaitAsync(() => bobProbe.States.Count(s => s == ConnectionState.Online) == 2);

        Assert.Equal(
            [ConnectionState.Connecting, ConnectionState.Online, ConnectionState.Reconnecting, ConnectionState.Online],
            bobProbe.States);
        Assert.NotEqual(lost.ServerId, bob.Server!.ServerId);
        Assert.Contains(_cluster.Route!.Refreshes, r => r.AvoidServerId == lost.ServerId);

        // A message alice stored while bob was away arrives through the sync (or live), once.
        await sendWhileDown;
        await bobProbe.WaitForMessagesAsync(2);
        await alice.SendAsync(to, "later").WaitAsync(Timeout);
        await bobProbe.WaitForMessagesAsync(3);
        Assert.Equal(["before", "after", "later"], bobProbe.Texts);
    }

    [Fact]
    public async Task A_send_in_flight_when_the_server_dies_is_retried_on_the_new_server_and_stored_once()
    {
        var (bob, bobProbe) = await OnlineAsync("bob");
        var (alice, aliceProbe) = await OnlineAsync("alice", o => o with { AckTimeout = TimeSpan.FromMilliseconds(500), MaxSendAttempts = 10 });
        var server = _cluster.ServerOf(alice.UserId)!;
        server.DropNextAcks(1);

        var send = alice.SendAsync(new Target { UserId = bob.UserId }, "survivor", clientMsgId: "survivor-1");
        await WaitUntilAsync(() => _cluster.MessagesOf(ConversationIds.ForUsers(alice.UserId, bob.UserId)).Count == 1);
        server.Kill();

        var result = await send.WaitAsync(Timeout);
        Assert.True(result.Duplicate);
        Assert.Single(_cluster.MessagesOf(result.ConversationId));
        Assert.NotEqual(server.ServerId, alice.Server!.ServerId);
        await aliceProbe.WaitForStateAsync(ConnectionState.Online);
        _ = bobProbe;
    }

    [Fact]
    public async Task A_draining_kick_moves_the_client_to_another_server()
    {
        var (bob, bobProbe) = await OnlineAsync("bob");
        var draining = _cluster.ServerOf(bob.UserId)!;

        await draining.KickAsync(bob.UserId, Kick.Types.Reason.Draining);
        await bobProbe.WaitAsync(() => bobProbe.States.Count(s => s == ConnectionState.Online) == 2);

        Assert.Equal(Kick.Types.Reason.Draining, Assert.Single(bobProbe.Kicks).Reason);
        Assert.NotEqual(draining.ServerId, bob.Server!.ServerId);
        Assert.Contains(_cluster.Route!.Refreshes, r => r.AvoidServerId == draining.ServerId);
    }

    [Fact]
    public async Task A_replaced_session_goes_offline_and_does_not_reconnect()
    {
        var (bob, bobProbe) = await OnlineAsync("bob");
        var server = _cluster.ServerOf(bob.UserId)!;

        await server.KickAsync(bob.UserId, Kick.Types.Reason.Replaced);
        await bobProbe.WaitForStateAsync(ConnectionState.Offline);

        // Give a reconnect (if there were one) time to show up: the fake route's backoff is 50 ms.
        await Task.Delay(500);
        Assert.Equal(ConnectionState.Offline, bob.State);
        Assert.Empty(_cluster.Route!.Refreshes);
        Assert.False(_cluster.ServerOf(bob.UserId) is not null);
    }

    [Fact]
    public async Task After_logout_nothing_reconnects_and_the_route_session_is_ended()
    {
        var (bob, bobProbe) = await OnlineAsync("bob");
        var server = _cluster.ServerOf(bob.UserId)!;

        await bob.LogoutAsync().WaitAsync(Timeout);
        server.Kill();
        await Task.Delay(500);

        Assert.Equal(ConnectionState.Offline, bob.State);
        Assert.Equal(ConnectionState.Offline, bobProbe.States[^1]);
        Assert.Empty(_cluster.Route!.Refreshes);
        Assert.Contains(_cluster.Route.Requests, r => r is { Method: "POST", Path: "/api/sessions/logout" });
        await Assert.ThrowsAsync<InvalidOperationException>(() => bob.SendAsync(new Target { GroupId = 0 }, "x"));
    }

    [Fact]
    public async Task When_the_route_api_refuses_the_token_the_client_fails()
    {
        var (bob, bobProbe) = await OnlineAsync("bob");
        _cluster.Route!.RefuseRefresh = true;

        _cluster.ServerOf(bob.UserId)!.Kill();
        await bobProbe.WaitForStateAsync(ConnectionState.Failed);

        Assert.Equal(ConnectionState.Failed, bob.State);
        var error = await Assert.ThrowsAsync<CimSendException>(() => bob.SendAsync(new Target { GroupId = 0 }, "x").WaitAsync(Timeout));
        Assert.Equal(ErrorCode.Unavailable, error.Code);
    }

    [Fact]
    public async Task Reconnect_gives_up_after_the_configured_attempts_when_no_server_is_left()
    {
        var (bob, bobProbe) = await OnlineAsync("bob", o => o with { MaxReconnectAttempts = 2, ConnectTimeout = TimeSpan.FromSeconds(1) });
        foreach (var server in _cluster.Servers)
        {
            server.Kill();
        }

        await bobProbe.WaitForStateAsync(ConnectionState.Failed);
        Assert.Equal(2, _cluster.Route!.Refreshes.Count());
    }

    [Fact]
    public async Task A_server_that_stops_answering_pings_is_left_for_another()
    {
        foreach (var s in _cluster.Servers)
        {
            s.PingIntervalMs = 100;
        }

        var (bob, bobProbe) = await OnlineAsync("bob");
        var hung = _cluster.ServerOf(bob.UserId)!;
        hung.Mute = true;

        await bobProbe.WaitAsync(() => bobProbe.States.Count(s => s == ConnectionState.Online) == 2);
        Assert.NotEqual(hung.ServerId, bob.Server!.ServerId);
        Assert.Contains(_cluster.Route!.Refreshes, r => r.AvoidServerId == hung.ServerId);
    }

    [Fact]
    public async Task A_read_receipt_marked_while_reconnecting_is_sent_once_back_online()
    {
        var (alice, _) = await OnlineAsync("alice");
        var (bob, bobProbe) = await OnlineAsync("bob");
        var sent = await alice.SendAsync(new Target { UserId = bob.UserId }, "read later").WaitAsync(Timeout);
        await bobProbe.WaitForMessagesAsync(1);
        var server = _cluster.ServerOf(bob.UserId)!;

        server.Kill();
        await bobProbe.WaitForStateAsync(ConnectionState.Reconnecting);
        await bob.MarkReadAsync(sent.ConversationId, sent.Seq).WaitAsync(Timeout);
        await bobProbe.WaitAsync(() => bobProbe.States.Count(s => s == ConnectionState.Online) == 2);

        await WaitUntilAsync(() => _cluster.ReadSeq(bob.UserId, sent.ConversationId) == sent.Seq);
    }

    [Fact]
    public async Task Many_clients_in_one_process_share_an_http_client_and_each_get_a_room_message_once()
    {
        const int Count = 100;
        var http = new HttpClient();
        _disposables.Add(http);
        var clients = new List<(CimClient Client, ClientProbe Probe)>();
        for (var i = 0; i < Count; i++)
        {
            var client = new CimClient(new TestOptions().Build(_cluster.RouteUri), http);
            _clients.Add(client);
            clients.Add((client, new ClientProbe(client)));
        }

        await Task.WhenAll(clients.Select(async (c, i) =>
        {
            await c.Client.RegisterAsync($"load{i}", "pw");
            await c.Client.LoginAsync($"load{i}", "pw");
        })).WaitAsync(TimeSpan.FromSeconds(60));

        var sent = await clients[0].Client.SendAsync(new Target { GroupId = 0 }, "to all").WaitAsync(Timeout);

        await Task.WhenAll(clients.Skip(1).Select(c => c.Probe.WaitForMessagesAsync(1, TimeSpan.FromSeconds(30))));
        Assert.All(clients.Skip(1), c => Assert.Equal(sent.ServerMsgId, Assert.Single(c.Probe.Messages).ServerMsgId));
        Assert.Equal(Count, _cluster.OnlineUsers().Count());
    }

    [Fact]
    public async Task A_send_is_a_trace_whose_context_travels_in_the_envelope()
    {
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == ClientTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        var (alice, _) = await OnlineAsync("alice");

        using var parent = new Activity("test-operation").Start();
        await alice.SendAsync(new Target { GroupId = 0 }, "traced").WaitAsync(Timeout);

        var send = _cluster.ServerOf(alice.UserId)!.ReceivedOfType(Envelope.BodyOneofCase.Send).Single();
        Assert.True(ActivityContext.TryParse(send.Traceparent, send.Tracestate, out var context));
        Assert.Equal(parent.TraceId, context.TraceId);
        Assert.NotEqual(parent.SpanId, context.SpanId);
    }

    [Fact]
    public async Task The_client_pings_when_idle_and_relays_typing_reads_and_transients()
    {
        foreach (var s in _cluster.Servers)
        {
            s.PingIntervalMs = 200;
        }

        var (alice, _) = await OnlineAsync("alice");
        var (bob, bobProbe) = await OnlineAsync("bob");
        var server = _cluster.ServerOf(alice.UserId)!;

        await WaitUntilAsync(() => server.ReceivedOfType(Envelope.BodyOneofCase.Ping).Any());

        await alice.SendTypingAsync(new Target { UserId = bob.UserId }, true).WaitAsync(Timeout);
        await bobProbe.WaitAsync(() => bobProbe.Typing.Count == 1);
        Assert.Equal(alice.UserId, bobProbe.Typing[0].FromUserId);
        Assert.True(bobProbe.Typing[0].Typing_);

        await alice.SendTransientAsync(new Target { UserId = bob.UserId }, new byte[] { 1, 2, 3 }).WaitAsync(Timeout);
        await bobProbe.WaitAsync(() => bobProbe.Transients.Count == 1);
        Assert.Equal(new byte[] { 1, 2, 3 }, bobProbe.Transients[0].Body.ToByteArray());

        var sent = await alice.SendAsync(new Target { UserId = bob.UserId }, "read me").WaitAsync(Timeout);
        await bob.MarkReadAsync(sent.ConversationId, sent.Seq).WaitAsync(Timeout);
        await WaitUntilAsync(() => _cluster.ReadSeq(bob.UserId, sent.ConversationId) == 1);
    }

    [Fact]
    public async Task Route_api_calls_cover_users_groups_presence_and_history()
    {
        var (alice, _) = await OnlineAsync("alice");
        var (bob, _) = await OnlineAsync("bob");
        var (albert, _) = await OnlineAsync("albert");

        Assert.Equal(["albert", "alice"], (await alice.SearchUsersAsync("al").WaitAsync(Timeout)).Select(a => a.UserName).Order());
        Assert.Equal(bob.UserId, (await alice.FindUserAsync("bob").WaitAsync(Timeout))!.UserId);
        Assert.Null(await alice.FindUserAsync("nobody").WaitAsync(Timeout));
        Assert.Equal("bob", (await alice.FindUserAsync(bob.UserId).WaitAsync(Timeout))!.UserName);
        Assert.Equal(3, (await alice.GetOnlineUsersAsync().WaitAsync(Timeout)).Users.Count);

        var group = await alice.CreateGroupAsync("team").WaitAsync(Timeout);
        await bob.JoinGroupAsync(group.GroupId).WaitAsync(Timeout);
        Assert.Equal(["alice", "bob"], (await alice.GetGroupMembersAsync(group.GroupId).WaitAsync(Timeout)).Select(m => m.UserName).Order());
        Assert.Equal("team", Assert.Single(await bob.GetMyGroupsAsync().WaitAsync(Timeout)).Name);
        await bob.LeaveGroupAsync(group.GroupId).WaitAsync(Timeout);
        Assert.Empty(await bob.GetMyGroupsAsync().WaitAsync(Timeout));
        var missing = await Assert.ThrowsAsync<CimApiException>(() => bob.LeaveGroupAsync(group.GroupId).WaitAsync(Timeout));
        Assert.Equal(404, missing.StatusCode);

        for (var i = 1; i <= 5; i++)
        {
            await alice.SendAsync(new Target { UserId = albert.UserId }, $"h{i}").WaitAsync(Timeout);
        }

        var conversation = ConversationIds.ForUsers(alice.UserId, albert.UserId);
        var latest = await alice.GetHistoryAsync(conversation, limit: 2).WaitAsync(Timeout);
        Assert.Equal(["h4", "h5"], latest.Messages.Select(m => m.Text));
        Assert.True(latest.HasMore);
        var older = await alice.GetHistoryAsync(conversation, beforeSeq: latest.Messages[0].Seq, limit: 10).WaitAsync(Timeout);
        Assert.Equal(["h1", "h2", "h3"], older.Messages.Select(m => m.Text));
        var conversations = await albert.GetConversationsAsync().WaitAsync(Timeout);
        Assert.Equal(5, conversations.Single(c => c.ConversationId == conversation).LastSeq);
    }

    [Fact]
    public async Task Bad_input_is_refused_before_anything_is_sent()
    {
        var client = NewClient();
        await Assert.ThrowsAsync<InvalidOperationException>(() => client.SendAsync(new Target { GroupId = 0 }, "x"));
        var (alice, _) = await OnlineAsync("alice");
        await Assert.ThrowsAsync<ArgumentException>(() => alice.SendAsync(new Target(), "x"));
        await Assert.ThrowsAsync<ArgumentException>(() => alice.SendAsync(new Target { UserId = -1 }, "x"));
        await Assert.ThrowsAsync<ArgumentException>(() => alice.SendAsync(new Target { GroupId = 0 }, "   "));
        await Assert.ThrowsAsync<ArgumentException>(() => alice.MarkReadAsync("nonsense", 1));
        await Assert.ThrowsAsync<InvalidOperationException>(() => alice.LoginAsync("alice", "pw"));
        Assert.Empty(_cluster.ServerOf(alice.UserId)!.ReceivedOfType(Envelope.BodyOneofCase.Send));
    }

    private CimClient NewClient(Func<TestOptions, TestOptions>? configure = null)
    {
        var options = (configure ?? (o => o))(new TestOptions()).Build(_cluster.RouteUri);
        var client = new CimClient(options);
        _clients.Add(client);
        return client;
    }

    private async Task<(CimClient Client, ClientProbe Probe)> OnlineAsync(string name, Func<TestOptions, TestOptions>? configure = null)
    {
        var client = NewClient(configure);
        var probe = new ClientProbe(client);
        await client.RegisterAsync(name, "pw").WaitAsync(Timeout);
        await client.LoginAsync(name, "pw").WaitAsync(Timeout);
        return (client, probe);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not become true in time.");
            await Task.Delay(20);
        }
    }

    /// <summary>Options as a record so each test can change one or two.</summary>
    private sealed record TestOptions
    {
        public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(2);

        public int MaxSendAttempts { get; init; } = 5;

        public int MaxReconnectAttempts { get; init; } = 10;

        public int SyncPageSize { get; init; } = 200;

        public TimeSpan GapSyncDelay { get; init; } = TimeSpan.FromMilliseconds(500);

        public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

        public CimClientOptions Build(Uri route) => new()
        {
            RouteApi = route,
            ClientName = "cim-test",
            AckTimeout = AckTimeout,
            MaxSendAttempts = MaxSendAttempts,
            MaxReconnectAttempts = MaxReconnectAttempts,
            SyncPageSize = SyncPageSize,
            GapSyncDelay = GapSyncDelay,
            ConnectTimeout = ConnectTimeout,
        };
    }
}
