using CimAspire.Client;
using CimAspire.Protocol;

namespace CimAspire.WebClient.Chat;

public enum ChatConnectionState
{
    Offline,
    Connecting,
    Online,
    Reconnecting,
    Failed,
}

public sealed record ChatSendResult(string ClientMsgId, string ServerMsgId, string ConversationId, long Seq, DateTimeOffset ServerTime);

/// <summary>A request the user can fix or retry failed; the message is meant for the user.</summary>
public sealed class ChatRequestException(string message, int? statusCode = null, Exception? inner = null)
    : Exception(message, inner)
{
    public int? StatusCode { get; } = statusCode;
}

/// <summary>
/// One user's IM session as the web client needs it: the client SDK behind a thin adapter, so the chat state and
/// the components can be tested without a network.
/// </summary>
public interface IChatConnection : IAsyncDisposable
{
    ChatConnectionState State { get; }

    long UserId { get; }

    string? UserName { get; }

    /// <summary>The IM server holding the session now, if connected.</summary>
    string? ServerId { get; }

    /// <summary>What resumes this session without the password (after a page reload); null while signed out.</summary>
    CimSessionTicket? Ticket { get; }

    event Action<ChatMessage>? MessageReceived;

    event Action<Receipt>? ReceiptReceived;

    event Action<Typing>? TypingReceived;

    event Action<PresenceChange>? PresenceChanged;

    event Action<ChatConnectionState>? StateChanged;

    event Action<Kick>? Kicked;

    Task<AccountDto> RegisterAsync(string userName, string password, CancellationToken ct = default);

    Task LoginAsync(string userName, string password, CancellationToken ct = default);

    /// <summary>Continues the session of a <see cref="Ticket"/>; a <see cref="ChatRequestException"/> with status 401 when it ended.</summary>
    Task ResumeAsync(string token, CancellationToken ct = default);

    /// <summary>Closes the IM session but leaves the route API session resumable until its ticket expires.</summary>
    Task DisconnectAsync();

    Task<ChatSendResult> SendAsync(Target to, string text, string clientMsgId, CancellationToken ct = default);

    Task SendTypingAsync(Target to, bool typing, CancellationToken ct = default);

    Task MarkReadAsync(string conversationId, long seq, CancellationToken ct = default);

    Task<HistoryPage> GetHistoryAsync(string conversationId, long? beforeSeq, int limit, CancellationToken ct = default);

    Task<IReadOnlyList<ConversationDto>> GetConversationsAsync(CancellationToken ct = default);

    Task<OnlineUsersPage> GetOnlineUsersAsync(int page, int pageSize, CancellationToken ct = default);

    Task<IReadOnlyList<AccountDto>> SearchUsersAsync(string prefix, int limit, CancellationToken ct = default);

    Task<GroupDto> CreateGroupAsync(string name, CancellationToken ct = default);

    Task JoinGroupAsync(long groupId, CancellationToken ct = default);

    Task LeaveGroupAsync(long groupId, CancellationToken ct = default);

    Task<IReadOnlyList<GroupDto>> GetMyGroupsAsync(CancellationToken ct = default);

    Task<IReadOnlyList<GroupMemberDto>> GetGroupMembersAsync(long groupId, CancellationToken ct = default);

    Task LogoutAsync(CancellationToken ct = default);
}

/// <summary>Makes one connection per browser session (Blazor circuit).</summary>
public interface IChatConnectionFactory
{
    IChatConnection Create();
}
