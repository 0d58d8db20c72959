using System.Collections.Immutable;
using CimAspire.Client;
using CimAspire.Protocol;

namespace CimAspire.WebClient.Chat;

/// <summary>
/// The chat as one browser session sees it: conversations, messages, receipts, presence and typing, kept up to date
/// from one <see cref="IChatConnection"/>. One instance per Blazor circuit (a scoped service), so closing the tab
/// disposes it and ends the IM session. State is held in immutable snapshots swapped under a lock: SDK events arrive
/// on their own threads while components render.
/// </summary>
public sealed partial class ChatSession(IChatConnectionFactory factory, TimeProvider time, ILogger<ChatSession> logger)
    : IAsyncDisposable
{
    public const int HistoryPageSize = 50;
    public const int MaxMessageLength = 4000;
    public const string EveryoneRoomId = "g0";
    public const string EveryoneRoomTitle = "Everyone";

    // A typing notice shows this long unless refreshed; the sender refreshes more often than that while typing.
    public static readonly TimeSpan TypingShownFor = TimeSpan.FromSeconds(6);
    public static readonly TimeSpan TypingRefreshEvery = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan LogoutTimeout = TimeSpan.FromSeconds(3);
    private const int CatchUpMaxPages = 20;
    private const int OnlineListSize = 200;

    private readonly Lock _gate = new();
    private ImmutableList<Func<Task>> _subscribers = [];
    private IChatConnection? _connection;
    private bool _overviewLoaded;
    private ImmutableDictionary<string, Conversation> _conversations = ImmutableDictionary<string, Conversation>.Empty;
    private ImmutableDictionary<long, OnlineUser> _online = ImmutableDictionary<long, OnlineUser>.Empty;
    private ImmutableDictionary<long, string> _names = ImmutableDictionary<long, string>.Empty;
    private ImmutableDictionary<string, ImmutableDictionary<long, DateTimeOffset>> _typing =
        ImmutableDictionary<string, ImmutableDictionary<long, DateTimeOffset>>.Empty;
    private ITimer? _typingTimer;
    private string? _typingSentTo;
    private Target? _typingSentTarget;
    private DateTimeOffset _typingSentAt;
    private int _loadingOlder;
    private EventHandlers? _handlers;

    public ChatConnectionState State => _connection?.State ?? ChatConnectionState.Offline;

    public bool IsSignedIn => _connection is not null;

    /// <summary>The IM server holding this session now (it changes when the session moves after a failure).</summary>
    public string? ServerId => _connection?.ServerId;

    public long UserId { get; private set; }

    public string UserName { get; private set; } = "";

    public string? ActiveConversationId { get; private set; }

    public Conversation? ActiveConversation =>
        ActiveConversationId is { } id ? _conversations.GetValueOrDefault(id) : null;

    /// <summary>The everyone room first, then the most recently active.</summary>
    public IReadOnlyList<Conversation> Conversations => _conversations.Values
        .OrderByDescending(c => c.IsEveryoneRoom)
        .ThenByDescending(c => c.LastActivity)
        .ThenBy(c => c.Title, StringComparer.CurrentCultureIgnoreCase)
        .ToList();

    public IReadOnlyList<OnlineUser> OnlineUsers => _online.Values
        .Where(u => u.UserId != UserId)
        .OrderBy(u => u.UserName, StringComparer.CurrentCultureIgnoreCase)
        .ToList();

    /// <summary>The last problem to show the user (a failed send, a refused request); null when there is none.</summary>
    public string? Notice { get; private set; }

    /// <summary>Why the session ended without the user signing out (kicked), for the sign-in page.</summary>
    public string? EndedReason { get; private set; }

    public Conversation? Find(string conversationId) => _conversations.GetValueOrDefault(conversationId);

    public bool IsOnline(long userId) => _online.ContainsKey(userId);

    public string NameOf(long userId) =>
        userId == UserId ? UserName : _names.TryGetValue(userId, out var name) ? name : $"user {userId}";

    public IReadOnlyList<string> TypingIn(string conversationId)
    {
        if (!_typing.TryGetValue(conversationId, out var users))
        {
            return [];
        }

        var now = time.GetUtcNow();
        return users.Where(u => u.Value > now).Select(u => NameOf(u.Key)).Order(StringComparer.CurrentCulture).ToList();
    }

    /// <summary>Calls <paramref name="onChanged"/> after every change, on the thread that made it.</summary>
    public IDisposable Subscribe(Func<Task> onChanged)
    {
        ImmutableInterlocked.Update(ref _subscribers, list => list.Add(onChanged));
        return new Subscription(this, onChanged);
    }

    public void DismissNotice()
    {
        Notice = null;
        Notify();
    }

    public Task SignInAsync(string userName, string password, CancellationToken ct = default) =>
        StartAsync(connection => connection.LoginAsync(userName, password, ct), ct);

    /// <summary>Signs in again from a ticket kept by the browser (<see cref="SessionPersistence"/>), without the password.</summary>
    public Task ResumeAsync(string token, CancellationToken ct = default) =>
        StartAsync(connection => connection.ResumeAsync(token, ct), ct);

    /// <summary>What resumes this session after a page reload; null while signed out.</summary>
    public CimSessionTicket? Ticket => _connection?.Ticket;

    public Task SignUpAsync(string userName, string password, CancellationToken ct = default) =>
        StartAsync(
            async connection =>
            {
                await connection.RegisterAsync(userName, password, ct);
                try
                {
                    await connection.LoginAsync(userName, password, ct);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Signing up again would only say the name is taken: say what happened instead.
                    throw new ChatRequestException(
                        $"Your account '{userName}' was created, but signing in failed: {FriendlyMessage(ex)} Try signing in.", inner: ex);
                }
            },
            ct);

    private async Task StartAsync(Func<IChatConnection, Task> login, CancellationToken ct)
    {
        if (_connection is not null)
        {
            await SignOutAsync();
        }

        var connection = factory.Create();
        Attach(connection);
        _connection = connection;
        try
        {
            await login(connection);
            UserId = connection.UserId;
            UserName = connection.UserName ?? "";
            EndedReason = null;
            Notice = null;
            await LoadOverviewAsync(connection, ct);
            _overviewLoaded = true;
        }
        catch (Exception ex)
        {
            _connection = null;
            Detach(connection);
            await connection.DisposeAsync();
            Reset();
            throw ex is ChatRequestException ? ex : new ChatRequestException(FriendlyMessage(ex), inner: ex);
        }

        OpenInternal(EveryoneRoomId);
        await RunAsync(() => LoadActiveAsync(connection, ct));
        Notify();
    }

    public Task SignOutAsync() => EndAsync(logout: true);

    private async Task EndAsync(bool logout)
    {
        var connection = Interlocked.Exchange(ref _connection, null);
        if (connection is null)
        {
            return;
        }

        Detach(connection);
        Reset();
        Notify();
        if (logout)
        {
            await CloseAsync(connection);
        }
        else
        {
            await connection.DisconnectAsync();
            await connection.DisposeAsync();
        }
    }

    public async Task OpenConversationAsync(string conversationId, CancellationToken ct = default)
    {
        var connection = RequireConnection();
        if (!_conversations.ContainsKey(conversationId))
        {
            return;
        }

        await StopTypingAsync(connection);
        OpenInternal(conversationId);
        Notify();
        await RunAsync(() => LoadActiveAsync(connection, ct));
    }

    /// <summary>Opens (creating locally if needed) the conversation with another user.</summary>
    public Task OpenUserAsync(long userId, string userName, CancellationToken ct = default)
    {
        if (userId == UserId)
        {
            return Task.CompletedTask;
        }

        var id = ConversationIds.ForUsers(UserId, userId);
        lock (_gate)
        {
            _names = _names.SetItem(userId, userName);
            if (!_conversations.ContainsKey(id))
            {
                _conversations = _conversations.Add(id, new Conversation(id, userName, userId, null) { HistoryLoaded = false });
            }
        }

        return OpenConversationAsync(id, ct);
    }

    /// <summary>Loads the page of history before the oldest loaded message; false when there is nothing more.</summary>
    public async Task<bool> LoadOlderAsync(string conversationId, CancellationToken ct = default)
    {
        var connection = RequireConnection();
        var conversation = Find(conversationId);
        if (conversation is null || !conversation.HasMoreHistory || Interlocked.Exchange(ref _loadingOlder, 1) == 1)
        {
            return false;
        }

        try
        {
            var oldest = conversation.Messages.FirstOrDefault(l => l.Seq > 0)?.Seq;
            var page = await connection.GetHistoryAsync(conversationId, oldest, HistoryPageSize, ct);
            Update(conversationId, c => c with
            {
                Messages = Merge(c.Messages, page.Messages.Select(ChatLine.From)),
                HasMoreHistory = page.HasMore,
            });
            Notify();
            return page.Messages.Count > 0;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ShowProblem(ex);
            return false;
        }
        finally
        {
            Volatile.Write(ref _loadingOlder, 0);
        }
    }

    /// <summary>Sends text to the open conversation. The message shows at once as "sending".</summary>
    public async Task SendAsync(string text, CancellationToken ct = default)
    {
        var connection = RequireConnection();
        var conversation = ActiveConversation;
        text = text.Trim();
        if (conversation is null || text.Length == 0)
        {
            return;
        }

        if (text.Length > MaxMessageLength)
        {
            Notice = $"A message can have at most {MaxMessageLength} characters; this one has {text.Length}.";
            Notify();
            return;
        }

        var line = new ChatLine(Guid.NewGuid().ToString("N"), null, 0, UserId, UserName, text, time.GetUtcNow(), SendState.Sending);
        Update(conversation.Id, c => c with { Messages = c.Messages.Add(line), LastMessage = line });
        Notify();
        await StopTypingAsync(connection);
        await SendLineAsync(connection, conversation.Id, conversation.Target, line, ct);
    }

    /// <summary>Sends a failed message again with its original id, so the server stores it at most once.</summary>
    public async Task RetryAsync(string conversationId, string clientMsgId, CancellationToken ct = default)
    {
        var connection = RequireConnection();
        var conversation = Find(conversationId);
        var line = conversation?.Messages.FirstOrDefault(l => l.ClientMsgId == clientMsgId && l.SendState == SendState.Failed);
        if (conversation is null || line is null)
        {
            return;
        }

        var sending = line with { SendState = SendState.Sending };
        Update(conversationId, c => c with { Messages = c.Messages.Replace(line, sending) });
        Notify();
        await SendLineAsync(connection, conversationId, conversation.Target, sending, ct);
    }

    /// <summary>Tells the other side of the open conversation whether the user is typing.</summary>
    public async Task ComposingAsync(string text)
    {
        var connection = _connection;
        var conversation = ActiveConversation;
        if (connection is null || conversation is null || conversation.IsEveryoneRoom)
        {
            return;
        }

        if (string.IsNullOrWhiteSpace(text))
        {
            await StopTypingAsync(connection);
            return;
        }

        var now = time.GetUtcNow();
        if (_typingSentTo == conversation.Id && now - _typingSentAt < TypingRefreshEvery)
        {
            return;
        }

        _typingSentTo = conversation.Id;
        _typingSentTarget = conversation.Target;
        _typingSentAt = now;
        await SendTypingAsync(connection, conversation.Target, true);
    }

    public async Task CreateGroupAsync(string name, CancellationToken ct = default)
    {
        var connection = RequireConnection();
        name = name.Trim();
        if (name.Length == 0)
        {
            Notice = "A group needs a name.";
            Notify();
            return;
        }

        await RunAsync(async () =>
        {
            var group = await connection.CreateGroupAsync(name, ct);
            AddGroup(group);
            await OpenConversationAsync(ConversationIds.ForGroup(group.GroupId), ct);
        });
    }

    public async Task JoinGroupAsync(long groupId, CancellationToken ct = default)
    {
        var connection = RequireConnection();
        await RunAsync(async () =>
        {
            await connection.JoinGroupAsync(groupId, ct);
            foreach (var group in await connection.GetMyGroupsAsync(ct))
            {
                AddGroup(group);
            }

            await OpenConversationAsync(ConversationIds.ForGroup(groupId), ct);
        });
    }

    public async Task LeaveGroupAsync(long groupId, CancellationToken ct = default)
    {
        var connection = RequireConnection();
        if (groupId == ConversationIds.EveryoneGroupId)
        {
            return;
        }

        await RunAsync(async () =>
        {
            await connection.LeaveGroupAsync(groupId, ct);
            var id = ConversationIds.ForGroup(groupId);
            lock (_gate)
            {
                _conversations = _conversations.Remove(id);
            }

            if (ActiveConversationId == id)
            {
                await OpenConversationAsync(EveryoneRoomId, ct);
            }

            Notify();
        });
    }

    /// <summary>Members of a group; for the everyone room, the users online now. Null when the request failed (the notice says why).</summary>
    public async Task<IReadOnlyList<GroupMemberDto>?> GetMembersAsync(long groupId, CancellationToken ct = default)
    {
        var connection = RequireConnection();
        if (groupId == ConversationIds.EveryoneGroupId)
        {
            return _online.Values.OrderBy(u => u.UserName, StringComparer.CurrentCultureIgnoreCase)
                .Select(u => new GroupMemberDto(u.UserId, u.UserName, true))
                .ToList();
        }

        try
        {
            return await connection.GetGroupMembersAsync(groupId, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ShowProblem(ex);
            return null;
        }
    }

    /// <summary>Other users whose name starts with the prefix; null when the request failed (the notice says why).</summary>
    public async Task<IReadOnlyList<AccountDto>?> SearchUsersAsync(string prefix, CancellationToken ct = default)
    {
        var connection = RequireConnection();
        prefix = prefix.Trim();
        if (prefix.Length == 0)
        {
            return [];
        }

        try
        {
            var found = await connection.SearchUsersAsync(prefix, 20, ct);
            return found.Where(a => a.UserId != UserId).ToList();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ShowProblem(ex);
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _typingTimer?.Dispose();
        var connection = Interlocked.Exchange(ref _connection, null);
        if (connection is not null)
        {
            // The circuit ends the same way for a reload as for a closed tab: close the IM session, but keep the route
            // session, which a reloaded page resumes from its stored ticket. Signing out is what ends it.
            Detach(connection);
            await connection.DisconnectAsync();
            await connection.DisposeAsync();
        }
    }

    private async Task SendLineAsync(IChatConnection connection, string conversationId, Target target, ChatLine line, CancellationToken ct)
    {
        try
        {
            var result = await connection.SendAsync(target, line.Text, line.ClientMsgId, ct);
            var stored = line with
            {
                Seq = result.Seq,
                ServerMsgId = result.ServerMsgId,
                Time = result.ServerTime,
                SendState = SendState.Stored,
            };
            Update(conversationId, c =>
            {
                var pendingRemoved = c.Messages.RemoveAll(l => l.ClientMsgId == line.ClientMsgId && l.SendState != SendState.Stored);
                return c with
                {
                    Messages = Merge(pendingRemoved, [stored]),
                    LastSeq = Math.Max(c.LastSeq, stored.Seq),
                    // The sender has read its own message.
                    ReadSeq = Math.Max(c.ReadSeq, stored.Seq),
                    LastMessage = c.LastMessage is null || c.LastMessage.Seq <= stored.Seq ? stored : c.LastMessage,
                };
            });
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            LogSendFailed(logger, conversationId, ex);
            Update(conversationId, c => c with
            {
                Messages = c.Messages.Select(l => l.ClientMsgId == line.ClientMsgId && l.SendState != SendState.Stored
                    ? l with { SendState = SendState.Failed }
                    : l).ToImmutableList(),
            });
            Notice = $"Your message was not sent: {FriendlyMessage(ex)}";
        }

        Notify();
    }

    private async Task LoadOverviewAsync(IChatConnection connection, CancellationToken ct)
    {
        // Each part is loaded on its own: the chat stays usable (live messages, sending) when one of them fails.
        var conversationsTask = TryLoadAsync(connection.GetConversationsAsync(ct), "your conversations");
        var groupsTask = TryLoadAsync(connection.GetMyGroupsAsync(ct), "your groups");
        var onlineTask = TryLoadAsync(connection.GetOnlineUsersAsync(0, OnlineListSize, ct), "who is online");
        var conversations = await conversationsTask ?? [];
        var groups = await groupsTask ?? [];
        var online = await onlineTask;

        lock (_gate)
        {
            if (online is not null)
            {
                _online = online.Users.Where(u => u.Online).ToImmutableDictionary(u => u.UserId, u => new OnlineUser(u.UserId, u.UserName));
                foreach (var user in online.Users)
                {
                    _names = _names.SetItem(user.UserId, user.UserName);
                }
            }

            Ensure(new Conversation(EveryoneRoomId, EveryoneRoomTitle, null, ConversationIds.EveryoneGroupId));
            foreach (var group in groups)
            {
                Ensure(new Conversation(ConversationIds.ForGroup(group.GroupId), TitleOf(group), null, group.GroupId));
            }

            foreach (var dto in conversations)
            {
                var title = dto.GroupId == ConversationIds.EveryoneGroupId ? EveryoneRoomTitle : dto.Title;
                if (dto.PeerUserId is { } peer)
                {
                    _names = _names.SetItem(peer, dto.Title);
                }

                var current = _conversations.GetValueOrDefault(dto.ConversationId)
                    ?? new Conversation(dto.ConversationId, title, dto.PeerUserId, dto.GroupId);
                var last = dto.LastMessage is { } m ? ChatLine.From(m) : null;
                var isActive = ActiveConversationId == dto.ConversationId;
                _conversations = _conversations.SetItem(dto.ConversationId, current with
                {
                    Title = title,
                    LastSeq = Math.Max(current.LastSeq, dto.LastSeq),
                    ReadSeq = Math.Max(current.ReadSeq, dto.ReadSeq),
                    Unread = isActive ? current.Unread : dto.Unread,
                    LastMessage = current.LastMessage is { } known && last is not null && known.Seq >= last.Seq ? known : last ?? current.LastMessage,
                });
            }
        }
    }

    private async Task<T?> TryLoadAsync<T>(Task<T> load, string what)
        where T : class
    {
        try
        {
            return await load;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogRequestFailed(logger, ex);
            Notice = $"Could not load {what}: {FriendlyMessage(ex)}";
            return null;
        }
    }

    /// <summary>Loads what the open conversation lacks (latest page, or everything since the newest known message) and marks it read.</summary>
    private async Task LoadActiveAsync(IChatConnection connection, CancellationToken ct)
    {
        var conversation = ActiveConversation;
        if (conversation is null)
        {
            return;
        }

        var newestKnown = conversation.Messages.LastOrDefault(l => l.Seq > 0)?.Seq ?? 0;
        var pages = new List<HistoryPage>();
        long? before = null;
        do
        {
            var page = await connection.GetHistoryAsync(conversation.Id, before, HistoryPageSize, ct);
            pages.Add(page);
            if (!conversation.HistoryLoaded || !page.HasMore || page.Messages.Count == 0 || page.Messages[0].Seq <= newestKnown + 1)
            {
                break;
            }

            before = page.Messages[0].Seq;
        }
        while (pages.Count < CatchUpMaxPages);

        Update(conversation.Id, c => c with
        {
            Messages = Merge(c.Messages, pages.SelectMany(p => p.Messages).Select(ChatLine.From)),
            HistoryLoaded = true,
            HasMoreHistory = c.HistoryLoaded ? c.HasMoreHistory : pages[^1].HasMore,
            LastSeq = Math.Max(c.LastSeq, pages[0].Messages.Count > 0 ? pages[0].Messages[^1].Seq : 0),
            LastMessage = Newest(c.LastMessage, pages[0].Messages.Count > 0 ? ChatLine.From(pages[0].Messages[^1]) : null),
        });
        await MarkActiveReadAsync(connection);
        Notify();
    }

    private async Task MarkActiveReadAsync(IChatConnection connection)
    {
        var conversation = ActiveConversation;
        if (conversation is null)
        {
            return;
        }

        var upTo = Math.Max(conversation.LastSeq, conversation.Messages.LastOrDefault(l => l.Seq > 0)?.Seq ?? 0);
        var alreadyRead = conversation.ReadSeq >= upTo && conversation.Unread == 0;
        Update(conversation.Id, c => c with { ReadSeq = Math.Max(c.ReadSeq, upTo), Unread = 0 });
        if (alreadyRead || upTo == 0)
        {
            return;
        }

        try
        {
            await connection.MarkReadAsync(conversation.Id, upTo);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A lost read receipt costs only a stale "delivered" on the sender's side; the next one repairs it.
            LogReceiptFailed(logger, conversation.Id, ex);
        }
    }

    private void OpenInternal(string conversationId)
    {
        ActiveConversationId = conversationId;
    }

    private void OnMessage(IChatConnection source, ChatMessage message)
    {
        if (source != _connection)
        {
            return;
        }

        var line = ChatLine.From(message);
        var fromOther = message.SenderId != UserId;
        var isActive = false;
        var unknownGroup = false;
        lock (_gate)
        {
            _names = _names.SetItem(message.SenderId, message.SenderName);
            var known = _conversations.GetValueOrDefault(message.ConversationId);
            var conversation = known ?? NewConversationFor(message);
            // A group this page has not listed yet (joined elsewhere): its name comes with the group list.
            unknownGroup = known is null && conversation.GroupId is > 0;
            var isNew = message.Seq > conversation.LastSeq;
            isActive = ActiveConversationId == message.ConversationId;
            _conversations = _conversations.SetItem(message.ConversationId, conversation with
            {
                Messages = Merge(conversation.Messages, [line]),
                LastSeq = Math.Max(conversation.LastSeq, message.Seq),
                Unread = fromOther && isNew && !isActive && message.Seq > conversation.ReadSeq ? conversation.Unread + 1 : conversation.Unread,
                ReadSeq = fromOther ? conversation.ReadSeq : Math.Max(conversation.ReadSeq, message.Seq),
                LastMessage = Newest(conversation.LastMessage, line),
            });
            if (_typing.TryGetValue(message.ConversationId, out var typing))
            {
                _typing = _typing.SetItem(message.ConversationId, typing.Remove(message.SenderId));
            }
        }

        Notify();
        if (isActive && fromOther)
        {
            _ = MarkActiveReadAsync(source);
        }

        if (unknownGroup)
        {
            _ = RefreshGroupsAsync();
        }
    }

    private Conversation NewConversationFor(ChatMessage message)
    {
        if (message.To.KindCase == Target.KindOneofCase.GroupId)
        {
            var groupId = message.To.GroupId;
            return new Conversation(message.ConversationId, groupId == 0 ? EveryoneRoomTitle : $"Group {groupId}", null, groupId);
        }

        var peer = ConversationIds.PeerOf(message.ConversationId, UserId)?.UserId ?? message.SenderId;
        return new Conversation(message.ConversationId, NameOf(peer), peer, null);
    }

    private async Task RefreshGroupsAsync()
    {
        if (_connection is not { } connection)
        {
            return;
        }

        try
        {
            foreach (var group in await connection.GetMyGroupsAsync())
            {
                AddGroup(group);
            }

            Notify();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogRefreshFailed(logger, ex);
        }
    }

    private void OnReceipt(IChatConnection source, Receipt receipt)
    {
        if (source != _connection)
        {
            return;
        }

        var isRead = receipt.Kind == Receipt.Types.Kind.Read;
        if (receipt.UserId == UserId)
        {
            // Read on another device of this user.
            if (isRead)
            {
                Update(receipt.ConversationId, c => c with
                {
                    ReadSeq = Math.Max(c.ReadSeq, receipt.Seq),
                    Unread = receipt.Seq >= c.LastSeq ? 0 : c.Unread,
                });
            }
        }
        else
        {
            Update(receipt.ConversationId, c => isRead
                ? c with { ReadBy = Raise(c.ReadBy, receipt.UserId, receipt.Seq), DeliveredBy = Raise(c.DeliveredBy, receipt.UserId, receipt.Seq) }
                : c with { DeliveredBy = Raise(c.DeliveredBy, receipt.UserId, receipt.Seq) });
        }

        Notify();
    }

    private void OnTyping(IChatConnection source, Typing typing)
    {
        if (source != _connection || typing.FromUserId == UserId)
        {
            return;
        }

        var conversationId = typing.To.KindCase == Target.KindOneofCase.GroupId
            ? ConversationIds.ForGroup(typing.To.GroupId)
            : ConversationIds.ForUsers(UserId, typing.FromUserId);
        lock (_gate)
        {
            var users = _typing.GetValueOrDefault(conversationId) ?? ImmutableDictionary<long, DateTimeOffset>.Empty;
            users = typing.Typing_ ? users.SetItem(typing.FromUserId, time.GetUtcNow() + TypingShownFor) : users.Remove(typing.FromUserId);
            _typing = _typing.SetItem(conversationId, users);
            if (typing.Typing_)
            {
                _typingTimer ??= time.CreateTimer(_ => ExpireTyping(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                _typingTimer.Change(TypingShownFor, Timeout.InfiniteTimeSpan);
            }
        }

        Notify();
    }

    private void ExpireTyping()
    {
        var now = time.GetUtcNow();
        TimeSpan? next = null;
        lock (_gate)
        {
            _typing = _typing
                .Select(c => KeyValuePair.Create(c.Key, c.Value.Where(u => u.Value > now).ToImmutableDictionary()))
                .Where(c => c.Value.Count > 0)
                .ToImmutableDictionary();
            if (_typing.Count > 0)
            {
                next = _typing.Values.SelectMany(u => u.Values).Min() - now;
                _typingTimer?.Change(next.Value, Timeout.InfiniteTimeSpan);
            }
        }

        Notify();
    }

    private void OnPresence(IChatConnection source, PresenceChange change)
    {
        if (source != _connection)
        {
            return;
        }

        lock (_gate)
        {
            // An offline notice may come without a name (the route API could not look it up): keep the one known.
            if (change.UserName.Length > 0)
            {
                _names = _names.SetItem(change.UserId, change.UserName);
            }

            var name = _names.GetValueOrDefault(change.UserId, $"user {change.UserId}");
            _online = change.Online
                ? _online.SetItem(change.UserId, new OnlineUser(change.UserId, name))
                : _online.Remove(change.UserId);
        }

        Notify();
    }

    private void OnStateChanged(IChatConnection source, ChatConnectionState state)
    {
        if (source != _connection)
        {
            return;
        }

        LogStateChanged(logger, UserId, state);
        Notify();
        if (state == ChatConnectionState.Online && _overviewLoaded)
        {
            // Back after a reconnect: whatever happened meanwhile (messages, unread counts, presence) is fetched again.
            _ = CatchUpAsync(source);
        }
    }

    private async Task CatchUpAsync(IChatConnection connection)
    {
        try
        {
            await LoadOverviewAsync(connection, CancellationToken.None);
            await LoadActiveAsync(connection, CancellationToken.None);
            Notify();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogRefreshFailed(logger, ex);
        }
    }

    private void OnKicked(IChatConnection source, Kick kick)
    {
        if (source != _connection || kick.Reason == Kick.Types.Reason.Draining)
        {
            // A draining server hands the session over: the connection moves to another server by itself.
            return;
        }

        EndedReason = kick.Reason switch
        {
            Kick.Types.Reason.Replaced => "You signed in somewhere else, so this session was closed.",
            Kick.Types.Reason.Admin => "An administrator closed your session.",
            _ => string.IsNullOrEmpty(kick.Message) ? "The server closed your session." : kick.Message,
        };

        // A newer login replaced this one, and it may continue this very route session (a reloaded tab resumes it
        // while the old circuit still lives): logging out would end the newer one too.
        _ = EndAsync(logout: kick.Reason != Kick.Types.Reason.Replaced);
    }

    private async Task StopTypingAsync(IChatConnection connection)
    {
        if (_typingSentTarget is not { } target)
        {
            return;
        }

        _typingSentTo = null;
        _typingSentTarget = null;
        await SendTypingAsync(connection, target, false);
    }

    private async Task SendTypingAsync(IChatConnection connection, Target target, bool typing)
    {
        if (connection.State != ChatConnectionState.Online)
        {
            return;
        }

        try
        {
            await connection.SendTypingAsync(target, typing);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Typing notices are transient by design; losing one is harmless.
            LogTypingFailed(logger, ex);
        }
    }

    private async Task RunAsync(Func<Task> action)
    {
        try
        {
            await action();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ShowProblem(ex);
        }
    }

    private void ShowProblem(Exception ex)
    {
        LogRequestFailed(logger, ex);
        Notice = FriendlyMessage(ex);
        Notify();
    }

    internal static string FriendlyMessage(Exception ex) => ex switch
    {
        ChatRequestException request => request.Message,
        TimeoutException or TaskCanceledException => "The chat service did not answer in time. Try again.",
        HttpRequestException or System.Net.Sockets.SocketException or IOException => "The chat service cannot be reached right now. Try again.",
        _ => "Something went wrong. Try again.",
    };

    private IChatConnection RequireConnection() =>
        _connection ?? throw new InvalidOperationException("Sign in first.");

    private void AddGroup(GroupDto group)
    {
        lock (_gate)
        {
            var id = ConversationIds.ForGroup(group.GroupId);
            _conversations = _conversations.TryGetValue(id, out var existing)
                ? _conversations.SetItem(id, existing with { Title = TitleOf(group) })
                : _conversations.Add(id, new Conversation(id, TitleOf(group), null, group.GroupId));
        }
    }

    private static string TitleOf(GroupDto group) =>
        group.GroupId == ConversationIds.EveryoneGroupId ? EveryoneRoomTitle : group.Name;

    private void Ensure(Conversation conversation)
    {
        if (!_conversations.ContainsKey(conversation.Id))
        {
            _conversations = _conversations.Add(conversation.Id, conversation);
        }
    }

    private void Update(string conversationId, Func<Conversation, Conversation> change)
    {
        lock (_gate)
        {
            if (_conversations.TryGetValue(conversationId, out var conversation))
            {
                _conversations = _conversations.SetItem(conversationId, change(conversation));
            }
        }
    }

    private void Reset()
    {
        lock (_gate)
        {
            _conversations = _conversations.Clear();
            _online = _online.Clear();
            _typing = _typing.Clear();
            _names = _names.Clear();
            ActiveConversationId = null;
            UserId = 0;
            UserName = "";
            Notice = null;
            _overviewLoaded = false;
            _typingSentTo = null;
            _typingSentTarget = null;
        }
    }

    private async Task CloseAsync(IChatConnection connection)
    {
        try
        {
            using var timeout = new CancellationTokenSource(LogoutTimeout);
            await connection.LogoutAsync(timeout.Token);
        }
        catch (Exception ex)
        {
            // The session key expires on its own; the connection is closed below either way.
            LogLogoutFailed(logger, ex);
        }

        await connection.DisposeAsync();
    }

    /// <summary>Stored lines ordered by sequence, a stored line replacing the unsent one with the same client id, unsent lines last.</summary>
    internal static ImmutableList<ChatLine> Merge(ImmutableList<ChatLine> lines, IEnumerable<ChatLine> incoming)
    {
        var stored = new SortedDictionary<long, ChatLine>();
        var pending = new List<ChatLine>();
        foreach (var line in lines)
        {
            if (line.SendState == SendState.Stored)
            {
                stored[line.Seq] = line;
            }
            else
            {
                pending.Add(line);
            }
        }

        foreach (var line in incoming)
        {
            stored[line.Seq] = line;
            pending.RemoveAll(p => p.ClientMsgId == line.ClientMsgId && p.SenderId == line.SenderId);
        }

        return [.. stored.Values, .. pending];
    }

    private static ChatLine? Newest(ChatLine? current, ChatLine? candidate) =>
        candidate is null ? current
        : current is null || current.SendState != SendState.Stored || candidate.Seq >= current.Seq ? candidate
        : current;

    private static ImmutableDictionary<long, long> Raise(ImmutableDictionary<long, long> map, long userId, long seq) =>
        map.TryGetValue(userId, out var known) && known >= seq ? map : map.SetItem(userId, seq);

    private void Notify()
    {
        foreach (var subscriber in Volatile.Read(ref _subscribers))
        {
            _ = InvokeAsync(subscriber);
        }
    }

    private async Task InvokeAsync(Func<Task> subscriber)
    {
        try
        {
            await subscriber();
        }
        catch (Exception ex)
        {
            LogSubscriberFailed(logger, ex);
        }
    }

    private void Attach(IChatConnection connection)
    {
        var handlers = _handlers = new EventHandlers(this, connection);
        connection.MessageReceived += handlers.Message;
        connection.ReceiptReceived += handlers.ReceiptHandler;
        connection.TypingReceived += handlers.TypingHandler;
        connection.PresenceChanged += handlers.Presence;
        connection.StateChanged += handlers.State;
        connection.Kicked += handlers.KickHandler;
    }

    private void Detach(IChatConnection connection)
    {
        if (_handlers is { } handlers && handlers.Source == connection)
        {
            connection.MessageReceived -= handlers.Message;
            connection.ReceiptReceived -= handlers.ReceiptHandler;
            connection.TypingReceived -= handlers.TypingHandler;
            connection.PresenceChanged -= handlers.Presence;
            connection.StateChanged -= handlers.State;
            connection.Kicked -= handlers.KickHandler;
            _handlers = null;
        }
    }

    private sealed class EventHandlers(ChatSession session, IChatConnection source)
    {
        public IChatConnection Source { get; } = source;

        public Action<ChatMessage> Message { get; } = m => session.OnMessage(source, m);

        public Action<Receipt> ReceiptHandler { get; } = r => session.OnReceipt(source, r);

        public Action<Typing> TypingHandler { get; } = t => session.OnTyping(source, t);

        public Action<PresenceChange> Presence { get; } = p => session.OnPresence(source, p);

        public Action<ChatConnectionState> State { get; } = s => session.OnStateChanged(source, s);

        public Action<Kick> KickHandler { get; } = k => session.OnKicked(source, k);
    }

    private sealed class Subscription(ChatSession session, Func<Task> onChanged) : IDisposable
    {
        public void Dispose() => ImmutableInterlocked.Update(ref session._subscribers, list => list.Remove(onChanged));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Connection of user {UserId} is now {State}")]
    private static partial void LogStateChanged(ILogger logger, long userId, ChatConnectionState state);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sending to {ConversationId} failed")]
    private static partial void LogSendFailed(ILogger logger, string conversationId, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Read receipt for {ConversationId} failed")]
    private static partial void LogReceiptFailed(ILogger logger, string conversationId, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Typing notice failed")]
    private static partial void LogTypingFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refreshing the chat overview failed")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A chat request failed")]
    private static partial void LogRequestFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Logout failed")]
    private static partial void LogLogoutFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "A chat subscriber failed")]
    private static partial void LogSubscriberFailed(ILogger logger, Exception exception);
}
