using CimAspire.Protocol;
using CimAspire.WebClient.Chat;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace CimAspire.Tests.Web;

public sealed class ChatSessionTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly FakeChatConnection _connection = new(userId: 1, userName: "alice");
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-01-01T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly ChatSession _session;

    public ChatSessionTests()
    {
        _connection.Groups.Add(new GroupDto(7, "rust fans", 2, 3));
        _connection.Online.Add(new PresenceDto(1, "alice", true, "s1", null));
        _connection.Online.Add(new PresenceDto(2, "bob", true, "s1", null));
        _session = new ChatSession(new FakeChatConnectionFactory(_connection), _time, NullLogger<ChatSession>.Instance);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _session.DisposeAsync();

    private static string Bob => ConversationIds.ForUsers(1, 2);

    [Fact]
    public async Task Signing_in_lists_the_everyone_room_first_the_groups_and_the_other_online_users()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);

        Assert.True(_session.IsSignedIn);
        Assert.Equal("alice", _session.UserName);
        Assert.Equal(["g0", "g7"], _session.Conversations.Select(c => c.Id));
        Assert.Equal("Everyone", _session.Conversations[0].Title);
        Assert.Equal(ChatSession.EveryoneRoomId, _session.ActiveConversationId);
        Assert.Equal([2L], _session.OnlineUsers.Select(u => u.UserId));
    }

    [Fact]
    public async Task A_refused_sign_in_keeps_the_servers_message_and_closes_the_connection()
    {
        _connection.LoginError = new ChatRequestException("Wrong user name or password.", 401);

        var error = await Assert.ThrowsAsync<ChatRequestException>(() => _session.SignInAsync("alice", "bad").WaitAsync(Timeout));

        Assert.Equal("Wrong user name or password.", error.Message);
        Assert.Equal(401, error.StatusCode);
        Assert.False(_session.IsSignedIn);
        Assert.True(_connection.Disposed);
    }

    [Fact]
    public async Task A_failing_overview_leaves_the_chat_usable_and_says_what_is_missing()
    {
        _connection.ConversationsError = new ChatRequestException("Not found", 404);

        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);

        Assert.True(_session.IsSignedIn);
        Assert.Equal("Could not load your conversations: Not found", _session.Notice);
        Assert.Equal(["g0", "g7"], _session.Conversations.Select(c => c.Id));
        _connection.DeliverFrom(2, "bob", "still arrives");
        Assert.Equal(1, _session.Find(Bob)!.Unread);
    }

    [Fact]
    public async Task Signing_up_registers_then_signs_in()
    {
        await _session.SignUpAsync("alice", "pw").WaitAsync(Timeout);

        Assert.True(_connection.Registered);
        Assert.True(_session.IsSignedIn);
    }

    [Fact]
    public async Task A_sign_up_whose_sign_in_fails_says_the_account_exists()
    {
        _connection.LoginError = new ChatRequestException("The chat service is busy.", 503);

        var error = await Assert.ThrowsAsync<ChatRequestException>(() => _session.SignUpAsync("alice", "pw").WaitAsync(Timeout));

        Assert.True(_connection.Registered);
        Assert.Equal("Your account 'alice' was created, but signing in failed: The chat service is busy. Try signing in.", error.Message);
        Assert.False(_session.IsSignedIn);
    }

    [Fact]
    public async Task A_message_in_another_conversation_counts_as_unread_until_the_conversation_is_opened()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);

        _connection.DeliverFrom(2, "bob", "hi");
        _connection.DeliverFrom(2, "bob", "are you there?");

        var conversation = _session.Find(Bob)!;
        Assert.Equal(2, conversation.Unread);
        Assert.Equal("are you there?", conversation.LastMessage!.Text);
        Assert.Equal("bob", conversation.Title);
        Assert.Empty(_connection.ReadMarks);

        await _session.OpenConversationAsync(Bob).WaitAsync(Timeout);

        conversation = _session.Find(Bob)!;
        Assert.Equal(0, conversation.Unread);
        Assert.Equal(["hi", "are you there?"], conversation.Messages.Select(m => m.Text));
        Assert.Contains((Bob, 2L), _connection.ReadMarks);
    }

    [Fact]
    public async Task A_message_in_the_open_conversation_is_marked_read_at_once()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        await _session.OpenUserAsync(2, "bob").WaitAsync(Timeout);

        var message = _connection.DeliverFrom(2, "bob", "hello");

        Assert.Equal(0, _session.Find(Bob)!.Unread);
        await WaitUntil(() => _connection.ReadMarks.Contains((Bob, message.Seq)));
    }

    [Fact]
    public async Task A_message_delivered_twice_shows_once_and_counts_once()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);

        var message = _connection.DeliverFrom(2, "bob", "once");
        _connection.Deliver(message);

        var conversation = _session.Find(Bob)!;
        Assert.Single(conversation.Messages);
        Assert.Equal(1, conversation.Unread);
    }

    [Fact]
    public async Task An_own_message_goes_from_sending_to_sent_to_delivered_to_read()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        await _session.OpenUserAsync(2, "bob").WaitAsync(Timeout);
        _connection.SendGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var sending = _session.SendAsync("  hello bob  ");
        var pending = Assert.Single(_session.Find(Bob)!.Messages);
        Assert.Equal("hello bob", pending.Text);
        Assert.Equal(MessageStatus.Sending, _session.Find(Bob)!.StatusOf(pending));

        _connection.SendGate.SetResult();
        await sending.WaitAsync(Timeout);
        var sent = Assert.Single(_session.Find(Bob)!.Messages);
        Assert.Equal(1, sent.Seq);
        Assert.Equal(pending.ClientMsgId, sent.ClientMsgId);
        Assert.Equal(MessageStatus.Sent, _session.Find(Bob)!.StatusOf(sent));

        _connection.RaiseReceipt(Bob, 2, Receipt.Types.Kind.Delivered, 1);
        Assert.Equal(MessageStatus.Delivered, _session.Find(Bob)!.StatusOf(sent));

        _connection.RaiseReceipt(Bob, 2, Receipt.Types.Kind.Read, 1);
        Assert.Equal(MessageStatus.Read, _session.Find(Bob)!.StatusOf(sent));
    }

    [Fact]
    public async Task The_echo_of_an_own_message_replaces_the_pending_line_instead_of_adding_one()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        await _session.OpenUserAsync(2, "bob").WaitAsync(Timeout);
        _connection.SendGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sending = _session.SendAsync("echo");
        var pending = Assert.Single(_session.Find(Bob)!.Messages);

        // The same message synced from another device of alice before the ack arrived.
        var echo = _connection.Store(Bob, 1, "alice", "echo", new Target { UserId = 2 });
        echo.ClientMsgId = pending.ClientMsgId;
        _connection.Deliver(echo);
        _connection.History[Bob][^1] = _connection.History[Bob][^1] with { ClientMsgId = pending.ClientMsgId };
        _connection.SendGate.SetResult();
        await sending.WaitAsync(Timeout);

        var line = Assert.Single(_session.Find(Bob)!.Messages);
        Assert.Equal(SendState.Stored, line.SendState);
        Assert.Equal(echo.Seq, line.Seq);
    }

    [Fact]
    public async Task A_failed_send_is_kept_and_a_retry_reuses_its_id()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        await _session.OpenUserAsync(2, "bob").WaitAsync(Timeout);
        _connection.SendError = new HttpRequestException("down");

        await _session.SendAsync("keep me").WaitAsync(Timeout);

        var failed = Assert.Single(_session.Find(Bob)!.Messages);
        Assert.Equal(MessageStatus.Failed, _session.Find(Bob)!.StatusOf(failed));
        Assert.Contains("not sent", _session.Notice, StringComparison.OrdinalIgnoreCase);

        _connection.SendError = null;
        await _session.RetryAsync(Bob, failed.ClientMsgId).WaitAsync(Timeout);

        var sent = Assert.Single(_session.Find(Bob)!.Messages);
        Assert.Equal(SendState.Stored, sent.SendState);
        Assert.Equal("keep me", sent.Text);
        Assert.All(_connection.Sends, s => Assert.Equal(failed.ClientMsgId, s.ClientMsgId));
        Assert.Equal(2, _connection.Sends.Count);
    }

    [Fact]
    public async Task Blank_and_overlong_messages_are_not_sent()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        await _session.OpenUserAsync(2, "bob").WaitAsync(Timeout);

        await _session.SendAsync(" \n ").WaitAsync(Timeout);
        await _session.SendAsync(new string('x', ChatSession.MaxMessageLength + 1)).WaitAsync(Timeout);

        Assert.Empty(_connection.Sends);
        Assert.Empty(_session.Find(Bob)!.Messages);
        Assert.Contains("at most", _session.Notice, StringComparison.Ordinal);
    }

    [Fact]
    public async Task History_pages_in_backwards_until_the_first_message()
    {
        for (var i = 1; i <= 120; i++)
        {
            _connection.Store(Bob, 2, "bob", $"m{i}", new Target { UserId = 1 });
        }

        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        await _session.OpenUserAsync(2, "bob").WaitAsync(Timeout);
        Assert.Equal(Enumerable.Range(71, 50).Select(i => (long)i), _session.Find(Bob)!.Messages.Select(m => m.Seq));
        Assert.True(_session.Find(Bob)!.HasMoreHistory);

        Assert.True(await _session.LoadOlderAsync(Bob).WaitAsync(Timeout));
        Assert.Equal(21, _session.Find(Bob)!.Messages[0].Seq);
        Assert.True(await _session.LoadOlderAsync(Bob).WaitAsync(Timeout));

        var conversation = _session.Find(Bob)!;
        Assert.Equal(Enumerable.Range(1, 120).Select(i => (long)i), conversation.Messages.Select(m => m.Seq));
        Assert.False(conversation.HasMoreHistory);
        Assert.False(await _session.LoadOlderAsync(Bob).WaitAsync(Timeout));
    }

    [Fact]
    public async Task Messages_sent_while_reconnecting_appear_when_the_connection_is_back()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        await _session.OpenUserAsync(2, "bob").WaitAsync(Timeout);
        _connection.DeliverFrom(2, "bob", "before");

        _connection.SetState(ChatConnectionState.Reconnecting);
        Assert.Equal(ChatConnectionState.Reconnecting, _session.State);
        for (var i = 1; i <= 70; i++)
        {
            // Stored by the server, never delivered to this (disconnected) session.
            _connection.Store(Bob, 2, "bob", $"missed {i}", new Target { UserId = 1 });
        }

        _connection.SetState(ChatConnectionState.Online);

        await WaitUntil(() => _session.Find(Bob)!.Messages.Count == 71);
        Assert.Equal(Enumerable.Range(1, 71).Select(i => (long)i), _session.Find(Bob)!.Messages.Select(m => m.Seq));
        await WaitUntil(() => _connection.ReadMarks.Contains((Bob, 71L)));
    }

    [Fact]
    public async Task Typing_shows_until_it_stops_expires_or_the_typer_sends()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        var toAlice = new Target { UserId = 1 };

        _connection.RaiseTyping(2, toAlice, true);
        Assert.Equal(["bob"], _session.TypingIn(Bob));

        _connection.RaiseTyping(2, toAlice, false);
        Assert.Empty(_session.TypingIn(Bob));

        _connection.RaiseTyping(2, toAlice, true);
        _time.Advance(ChatSession.TypingShownFor + TimeSpan.FromMilliseconds(1));
        Assert.Empty(_session.TypingIn(Bob));

        _connection.RaiseTyping(2, toAlice, true);
        _connection.DeliverFrom(2, "bob", "done typing");
        Assert.Empty(_session.TypingIn(Bob));
    }

    [Fact]
    public async Task Composing_sends_typing_at_most_every_few_seconds_and_stops_on_send()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        await _session.OpenUserAsync(2, "bob").WaitAsync(Timeout);

        await _session.ComposingAsync("h").WaitAsync(Timeout);
        await _session.ComposingAsync("he").WaitAsync(Timeout);
        Assert.Single(_connection.TypingSent);

        _time.Advance(ChatSession.TypingRefreshEvery);
        await _session.ComposingAsync("hel").WaitAsync(Timeout);
        Assert.Equal(2, _connection.TypingSent.Count);

        await _session.SendAsync("hello").WaitAsync(Timeout);
        Assert.Equal([true, true, false], _connection.TypingSent.Select(t => t.Typing));
        Assert.All(_connection.TypingSent, t => Assert.Equal(2, t.To.UserId));
    }

    [Fact]
    public async Task Presence_changes_update_the_online_list()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);

        _connection.RaisePresence(3, "carol", true);
        _connection.RaisePresence(2, "bob", false);

        Assert.Equal(["carol"], _session.OnlineUsers.Select(u => u.UserName));
        Assert.False(_session.IsOnline(2));

        // An offline notice without a name (the route API could not look it up) keeps the name known.
        _connection.RaisePresence(3, "", false);
        Assert.Empty(_session.OnlineUsers);
        Assert.Equal("carol", _session.NameOf(3));
    }

    [Fact]
    public async Task Creating_joining_and_leaving_groups_updates_the_list()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);

        await _session.CreateGroupAsync("book club").WaitAsync(Timeout);
        var created = _session.ActiveConversation!;
        Assert.Equal("book club", created.Title);

        await _session.JoinGroupAsync(55).WaitAsync(Timeout);
        Assert.Equal("g55", _session.ActiveConversationId);

        await _session.LeaveGroupAsync(55).WaitAsync(Timeout);
        Assert.Null(_session.Find("g55"));
        Assert.Equal(ChatSession.EveryoneRoomId, _session.ActiveConversationId);
        Assert.Equal([55L], _connection.Left);
    }

    [Fact]
    public async Task A_message_from_an_unknown_group_adds_the_group_with_its_name()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        _connection.Groups.Add(new GroupDto(9, "late joiners", 3, 2));

        _connection.DeliverToGroup(9, 3, "carol", "hi all");

        await WaitUntil(() => _session.Find("g9")?.Title == "late joiners");
        Assert.Equal(1, _session.Find("g9")!.Unread);
    }

    [Fact]
    public async Task Group_receipts_count_readers()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        await _session.OpenConversationAsync("g7").WaitAsync(Timeout);
        await _session.SendAsync("team update").WaitAsync(Timeout);
        var line = _session.Find("g7")!.Messages.Single();

        _connection.RaiseReceipt("g7", 2, Receipt.Types.Kind.Read, line.Seq);
        _connection.RaiseReceipt("g7", 3, Receipt.Types.Kind.Read, line.Seq);

        Assert.Equal(2, _session.Find("g7")!.ReadCount(line));
    }

    [Fact]
    public async Task Being_replaced_elsewhere_ends_the_session_with_a_reason_but_draining_does_not()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);

        _connection.RaiseKick(Kick.Types.Reason.Draining);
        Assert.True(_session.IsSignedIn);

        _connection.RaiseKick(Kick.Types.Reason.Replaced);
        await WaitUntil(() => !_session.IsSignedIn);
        Assert.Contains("somewhere else", _session.EndedReason, StringComparison.Ordinal);
        Assert.True(_connection.Disposed);
    }

    [Fact]
    public async Task Disposing_the_session_closes_the_connection_but_keeps_the_route_session_for_a_reload()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);

        await _session.DisposeAsync();

        Assert.True(_connection.Disconnected);
        Assert.False(_connection.LoggedOut);
        Assert.True(_connection.Disposed);
    }

    [Fact]
    public async Task Signing_out_ends_the_route_session()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);

        await _session.SignOutAsync().WaitAsync(Timeout);

        Assert.True(_connection.LoggedOut);
        Assert.True(_connection.Disposed);
        Assert.Null(_session.Ticket);
    }

    [Fact]
    public async Task A_session_resumes_from_its_ticket_with_history_and_sends()
    {
        var first = new FakeChatConnection(userId: 1, userName: "alice");
        var resumed = new FakeChatConnection(userId: 1, userName: "alice");
        resumed.DeliverFrom(2, "bob", "sent before the reload");
        await using var session = new ChatSession(new FakeChatConnectionFactory(first, resumed), TimeProvider.System, NullLogger<ChatSession>.Instance);
        await session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        var ticket = session.Ticket;
        Assert.NotNull(ticket);

        await session.DisposeAsync();
        Assert.True(first.Disconnected);
        Assert.False(first.LoggedOut);
        await using var reloaded = new ChatSession(new FakeChatConnectionFactory(resumed), TimeProvider.System, NullLogger<ChatSession>.Instance);
        await reloaded.ResumeAsync(ticket.Token).WaitAsync(Timeout);

        Assert.Equal([ticket.Token], resumed.ResumedWith);
        Assert.Equal(("alice", 1L), (reloaded.UserName, reloaded.UserId));
        var bob = ConversationIds.ForUsers(1, 2);
        await reloaded.OpenUserAsync(2, "bob").WaitAsync(Timeout);
        Assert.Equal(["sent before the reload"], reloaded.Find(bob)!.Messages.Select(m => m.Text));
        await reloaded.SendAsync("after the reload").WaitAsync(Timeout);
        Assert.Contains(resumed.Sends, s => s.Text == "after the reload");
    }

    [Fact]
    public async Task A_ticket_of_an_ended_session_leaves_the_visitor_signed_out_with_the_reason()
    {
        _connection.ResumeError = new ChatRequestException("The session has ended (logged out or expired); log in again.", 401);

        var error = await Assert.ThrowsAsync<ChatRequestException>(() => _session.ResumeAsync("stale-token").WaitAsync(Timeout));

        Assert.Equal(401, error.StatusCode);
        Assert.False(_session.IsSignedIn);
        Assert.True(_connection.Disposed);
    }

    [Fact]
    public async Task Being_replaced_by_a_newer_login_does_not_log_out_the_route_session_it_may_share()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);

        _connection.RaiseKick(Kick.Types.Reason.Replaced);
        await WaitUntil(() => _connection.Disposed);

        Assert.False(_session.IsSignedIn);
        Assert.False(_connection.LoggedOut);
        Assert.True(_connection.Disconnected);
    }

    [Fact]
    public async Task Subscribers_hear_changes_until_they_unsubscribe()
    {
        await _session.SignInAsync("alice", "pw").WaitAsync(Timeout);
        var calls = 0;
        var subscription = _session.Subscribe(() =>
        {
            Interlocked.Increment(ref calls);
            return Task.CompletedTask;
        });

        _connection.RaisePresence(3, "carol", true);
        Assert.Equal(1, Volatile.Read(ref calls));

        subscription.Dispose();
        _connection.RaisePresence(3, "carol", false);
        Assert.Equal(1, Volatile.Read(ref calls));
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not become true in time.");
            await Task.Delay(10);
        }
    }
}
