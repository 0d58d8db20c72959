using System.Collections.Concurrent;
using CimAspire.Client;
using CimAspire.Protocol;
using CimAspire.WebClient.Chat;
using Google.Protobuf;

namespace CimAspire.Tests.Web;

/// <summary>
/// An in-memory stand-in for the IM session behind <see cref="IChatConnection"/>: it keeps history per conversation,
/// assigns sequences to sends, records what the session asked for, and lets a test raise server events.
/// </summary>
internal sealed class FakeChatConnection : IChatConnection
{
    private readonly Lock _gate = new();

    public FakeChatConnection(long userId = 1, string userName = "alice")
    {
        UserId = userId;
        UserName = userName;
    }

    public ChatConnectionState State { get; private set; } = ChatConnectionState.Offline;

    public long UserId { get; }

    public string? UserName { get; }

    public string? ServerId { get; set; } = "im-fake-1";

    public CimSessionTicket? Ticket => State is ChatConnectionState.Offline ? null : new CimSessionTicket($"token-{UserId}", DateTimeOffset.UtcNow.AddHours(12));

    /// <summary>The tokens sessions were resumed with, in order.</summary>
    public List<string> ResumedWith { get; } = [];

    /// <summary>Thrown by the next resume (and only that one).</summary>
    public Exception? ResumeError { get; set; }

    public bool Disconnected { get; private set; }

    public Dictionary<string, List<MessageDto>> History { get; } = [];

    public List<ConversationDto> Conversations { get; } = [];

    public List<GroupDto> Groups { get; } = [];

    public List<PresenceDto> Online { get; } = [];

    public List<AccountDto> Accounts { get; } = [];

    public Dictionary<long, List<GroupMemberDto>> Members { get; } = [];

    public ConcurrentQueue<(Target To, bool Typing)> TypingSent { get; } = new();

    public ConcurrentQueue<(string ConversationId, long Seq)> ReadMarks { get; } = new();

    public ConcurrentQueue<(Target To, string Text, string ClientMsgId)> Sends { get; } = new();

    public List<long> Joined { get; } = [];

    public List<long> Left { get; } = [];

    /// <summary>Thrown by the next login (and only that one).</summary>
    public Exception? LoginError { get; set; }

    public Exception? RegisterError { get; set; }

    /// <summary>Thrown by sends until cleared.</summary>
    public Exception? SendError { get; set; }

    /// <summary>When set, sends wait for it before being stored.</summary>
    public TaskCompletionSource? SendGate { get; set; }

    public bool Registered { get; private set; }

    public bool LoggedOut { get; private set; }

    public bool Disposed { get; private set; }

    public event Action<ChatMessage>? MessageReceived;

    public event Action<Receipt>? ReceiptReceived;

    public event Action<Typing>? TypingReceived;

    public event Action<PresenceChange>? PresenceChanged;

    public event Action<ChatConnectionState>? StateChanged;

    public event Action<Kick>? Kicked;

    /// <summary>Stores a message as the server would, without telling the session.</summary>
    public ChatMessage Store(string conversationId, long senderId, string senderName, string text, Target to)
    {
        lock (_gate)
        {
            var list = History.TryGetValue(conversationId, out var existing) ? existing : History[conversationId] = [];
            var seq = list.Count == 0 ? 1 : list[^1].Seq + 1;
            var dto = new MessageDto($"s{conversationId}-{seq}", Guid.NewGuid().ToString("N"), conversationId, seq, senderId, senderName, text, new DateTimeOffset(2026, 11, 28, 9, 0, 0, TimeSpan.Zero).AddMinutes(seq * 3));
            list.Add(dto);
            return new ChatMessage
            {
                ServerMsgId = dto.ServerMsgId,
                ClientMsgId = dto.ClientMsgId,
                ConversationId = conversationId,
                Seq = seq,
                SenderId = senderId,
                SenderName = senderName,
                To = to,
                Body = ByteString.CopyFromUtf8(text),
                ServerTimeMs = dto.ServerTime.ToUnixTimeMilliseconds(),
            };
        }
    }

    /// <summary>Another user sends to this user: stored, then delivered.</summary>
    public ChatMessage DeliverFrom(long senderId, string senderName, string text)
    {
        var message = Store(ConversationIds.ForUsers(UserId, senderId), senderId, senderName, text, new Target { UserId = UserId });
        MessageReceived?.Invoke(message);
        return message;
    }

    public ChatMessage DeliverToGroup(long groupId, long senderId, string senderName, string text)
    {
        var message = Store(ConversationIds.ForGroup(groupId), senderId, senderName, text, new Target { GroupId = groupId });
        MessageReceived?.Invoke(message);
        return message;
    }

    public void Deliver(ChatMessage message) => MessageReceived?.Invoke(message);

    public void RaiseReceipt(string conversationId, long userId, Receipt.Types.Kind kind, long seq) =>
        ReceiptReceived?.Invoke(new Receipt { ConversationId = conversationId, UserId = userId, Kind = kind, Seq = seq });

    public void RaiseTyping(long fromUserId, Target to, bool typing) =>
        TypingReceived?.Invoke(new Typing { FromUserId = fromUserId, To = to, Typing_ = typing });

    public void RaisePresence(long userId, string userName, bool online) =>
        PresenceChanged?.Invoke(new PresenceChange { UserId = userId, UserName = userName, Online = online });

    public void RaiseKick(Kick.Types.Reason reason) => Kicked?.Invoke(new Kick { Reason = reason });

    public void SetState(ChatConnectionState state)
    {
        State = state;
        StateChanged?.Invoke(state);
    }

    public Task<AccountDto> RegisterAsync(string userName, string password, CancellationToken ct = default)
    {
        if (RegisterError is { } error)
        {
            RegisterError = null;
            return Task.FromException<AccountDto>(error);
        }

        Registered = true;
        return Task.FromResult(new AccountDto(UserId, userName, DateTimeOffset.UnixEpoch));
    }

    public Task LoginAsync(string userName, string password, CancellationToken ct = default)
    {
        if (LoginError is { } error)
        {
            LoginError = null;
            return Task.FromException(error);
        }

        SetState(ChatConnectionState.Connecting);
        SetState(ChatConnectionState.Online);
        return Task.CompletedTask;
    }

    public Task ResumeAsync(string token, CancellationToken ct = default)
    {
        ResumedWith.Add(token);
        if (ResumeError is { } error)
        {
            ResumeError = null;
            return Task.FromException(error);
        }

        SetState(ChatConnectionState.Connecting);
        SetState(ChatConnectionState.Online);
        return Task.CompletedTask;
    }

    public Task DisconnectAsync()
    {
        Disconnected = true;
        SetState(ChatConnectionState.Offline);
        return Task.CompletedTask;
    }

    public async Task<ChatSendResult> SendAsync(Target to, string text, string clientMsgId, CancellationToken ct = default)
    {
        Sends.Enqueue((to, text, clientMsgId));
        if (SendGate is { } gate)
        {
            await gate.Task.WaitAsync(ct);
        }

        if (SendError is { } error)
        {
            throw error;
        }

        var conversationId = ConversationIds.For(UserId, to);
        lock (_gate)
        {
            // A retry with a known client id returns the stored message, as the server does.
            if (History.TryGetValue(conversationId, out var list) && list.Find(m => m.ClientMsgId == clientMsgId) is { } known)
            {
                return new ChatSendResult(clientMsgId, known.ServerMsgId, conversationId, known.Seq, known.ServerTime);
            }
        }

        var stored = Store(conversationId, UserId, UserName!, text, to);
        lock (_gate)
        {
            var list = History[conversationId];
            list[^1] = list[^1] with { ClientMsgId = clientMsgId };
        }

        return new ChatSendResult(clientMsgId, stored.ServerMsgId, conversationId, stored.Seq, DateTimeOffset.FromUnixTimeMilliseconds(stored.ServerTimeMs));
    }

    public Task SendTypingAsync(Target to, bool typing, CancellationToken ct = default)
    {
        TypingSent.Enqueue((to, typing));
        return Task.CompletedTask;
    }

    public Task MarkReadAsync(string conversationId, long seq, CancellationToken ct = default)
    {
        ReadMarks.Enqueue((conversationId, seq));
        return Task.CompletedTask;
    }

    public Task<HistoryPage> GetHistoryAsync(string conversationId, long? beforeSeq, int limit, CancellationToken ct = default)
    {
        lock (_gate)
        {
            var all = History.TryGetValue(conversationId, out var list) ? list.ToList() : [];
            var older = all.Where(m => beforeSeq is null || m.Seq < beforeSeq).ToList();
            var page = older.TakeLast(limit).ToList();
            return Task.FromResult(new HistoryPage(conversationId, page, older.Count > page.Count));
        }
    }

    /// <summary>Thrown by every request for the conversation overview until cleared.</summary>
    public Exception? ConversationsError { get; set; }

    public Task<IReadOnlyList<ConversationDto>> GetConversationsAsync(CancellationToken ct = default) =>
        ConversationsError is { } error
            ? Task.FromException<IReadOnlyList<ConversationDto>>(error)
            : Task.FromResult<IReadOnlyList<ConversationDto>>(Conversations.ToList());

    public Task<OnlineUsersPage> GetOnlineUsersAsync(int page, int pageSize, CancellationToken ct = default) =>
        Task.FromResult(new OnlineUsersPage(Online.ToList(), Online.Count, page, pageSize));

    public Task<IReadOnlyList<AccountDto>> SearchUsersAsync(string prefix, int limit, CancellationToken ct = default) =>
        Task.FromResult<IReadOnlyList<AccountDto>>(Accounts.Where(a => a.UserName.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)).Take(limit).ToList());

    public Task<GroupDto> CreateGroupAsync(string name, CancellationToken ct = default)
    {
        var group = new GroupDto(100 + Groups.Count, name, UserId, 1);
        Groups.Add(group);
        return Task.FromResult(group);
    }

    public Task JoinGroupAsync(long groupId, CancellationToken ct = default)
    {
        Joined.Add(groupId);
        Groups.Add(new GroupDto(groupId, $"joined {groupId}", 99, 2));
        return Task.CompletedTask;
    }

    public Task LeaveGroupAsync(long groupId, CancellationToken ct = default)
    {
        Left.Add(groupId);
        Groups.RemoveAll(g => g.GroupId == groupId);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<GroupDto>> GetMyGroupsAsync(CancellationToken ct = default) =>
        Task.FromResult<IReadOnlyList<GroupDto>>(Groups.ToList());

    public Task<IReadOnlyList<GroupMemberDto>> GetGroupMembersAsync(long groupId, CancellationToken ct = default) =>
        Task.FromResult<IReadOnlyList<GroupMemberDto>>(Members.TryGetValue(groupId, out var members) ? members : []);

    public Task LogoutAsync(CancellationToken ct = default)
    {
        LoggedOut = true;
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        State = ChatConnectionState.Offline;
        return ValueTask.CompletedTask;
    }
}

internal sealed class FakeChatConnectionFactory(params FakeChatConnection[] connections) : IChatConnectionFactory
{
    private readonly Queue<FakeChatConnection> _next = new(connections);

    public List<FakeChatConnection> Created { get; } = [];

    public IChatConnection Create()
    {
        var connection = _next.Count > 0 ? _next.Dequeue() : new FakeChatConnection();
        Created.Add(connection);
        return connection;
    }
}
