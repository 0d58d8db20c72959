namespace CimAspire.Protocol;

// The route API's JSON shapes (camelCase on the wire), shared by the route API, the client SDK and the tests.
// docs/route-api.md and the OpenAPI document describe the endpoints that use them.

public sealed record RegisterRequest(string? UserName, string? Password);

public sealed record LoginRequestDto(string? UserName, string? Password);

/// <summary>Asks for a fresh server and token with a still-valid token (Bearer), without the password.</summary>
/// <param name="AvoidServerId">A server the client could not reach; another is picked when one is live.</param>
public sealed record RefreshRequest(string? AvoidServerId);

public sealed record AccountDto(long UserId, string UserName, DateTimeOffset CreatedAt);

public sealed record ServerEndpointDto(string ServerId, string Host, int Port);

/// <summary>
/// How clients reconnect: before attempt n (0 = the first after the loss) wait cap = min(max, base * 2^n), less a random
/// share of up to jitter * cap. Jitter 1 ("full jitter") spreads a storm of reconnects over the whole cap, and the first
/// attempt of a client costs on average half the base delay, not the whole of it.
/// </summary>
public sealed record ReconnectPolicyDto(int BaseDelayMs, int MaxDelayMs, double Jitter)
{
    /// <summary>The wait before attempt <paramref name="attempt"/>; <paramref name="random"/> is uniform in [0, 1).</summary>
    public TimeSpan DelayBefore(int attempt, double random)
    {
        var baseMs = Math.Max(0, BaseDelayMs);
        var cap = Math.Min(Math.Max(baseMs, MaxDelayMs), baseMs * Math.Pow(2, Math.Clamp(attempt, 0, 30)));
        return TimeSpan.FromMilliseconds(cap * (1 - (Math.Clamp(Jitter, 0, 1) * Math.Clamp(random, 0, 1))));
    }
}

public sealed record LoginResponse(
    long UserId,
    string UserName,
    string Token,
    DateTimeOffset ExpiresAt,
    ServerEndpointDto Server,
    ReconnectPolicyDto Reconnect);

public sealed record PresenceDto(long UserId, string UserName, bool Online, string? ServerId, DateTimeOffset? Since);

public sealed record OnlineUsersPage(IReadOnlyList<PresenceDto> Users, long Total, int Page, int PageSize);

public sealed record CreateGroupRequest(string? Name);

public sealed record GroupDto(long GroupId, string Name, long OwnerId, long MemberCount);

public sealed record GroupMemberDto(long UserId, string UserName, bool Online);

/// <summary>A send over HTTP: exactly one of UserId or GroupId.</summary>
public sealed record SendMessageRequest(long? UserId, long? GroupId, string? Text, string? ClientMsgId);

public sealed record SendMessageResponse(
    string ServerMsgId,
    string ConversationId,
    long Seq,
    DateTimeOffset ServerTime,
    bool Duplicate,
    bool RecipientOnline);

public sealed record MessageDto(
    string ServerMsgId,
    string ClientMsgId,
    string ConversationId,
    long Seq,
    long SenderId,
    string SenderName,
    string Text,
    DateTimeOffset ServerTime);

/// <summary>A page of history, newest last; ask again with BeforeSeq = the first Seq to page back.</summary>
public sealed record HistoryPage(string ConversationId, IReadOnlyList<MessageDto> Messages, bool HasMore);

public sealed record ConversationDto(
    string ConversationId,
    long? PeerUserId,
    long? GroupId,
    string Title,
    long LastSeq,
    long ReadSeq,
    long Unread,
    MessageDto? LastMessage);

public sealed record ServerOverviewDto(
    string ServerId,
    string Host,
    int Port,
    int Connections,
    DateTimeOffset StartedAt,
    string Version);

public sealed record ClusterOverviewDto(IReadOnlyList<ServerOverviewDto> Servers, long OnlineUsers);

/// <summary>The route API's paths, for clients (parameters in braces). docs/route-api.md describes each.</summary>
public static class RouteApiPaths
{
    public const string Accounts = "/api/accounts";                                  // POST register; GET ?prefix=&limit= search
    public const string Account = "/api/accounts/{userId}";                          // GET
    public const string AccountByName = "/api/accounts/by-name/{userName}";          // GET
    public const string Login = "/api/sessions/login";                               // POST LoginRequestDto
    public const string Refresh = "/api/sessions/refresh";                           // POST RefreshRequest (Bearer)
    public const string Logout = "/api/sessions/logout";                             // POST (Bearer)
    public const string OnlineUsers = "/api/presence/online";                        // GET ?page=&pageSize=
    public const string UserPresence = "/api/presence/{userId}";                     // GET
    public const string Groups = "/api/groups";                                      // POST create; GET my groups
    public const string Group = "/api/groups/{groupId}";                             // GET
    public const string GroupJoin = "/api/groups/{groupId}/join";                    // POST
    public const string GroupLeave = "/api/groups/{groupId}/leave";                  // POST
    public const string GroupMembers = "/api/groups/{groupId}/members";              // GET
    public const string Messages = "/api/messages";                                  // POST SendMessageRequest
    public const string Conversations = "/api/conversations";                        // GET
    public const string ConversationMessages = "/api/conversations/{conversationId}/messages"; // GET ?beforeSeq=&limit=
    public const string AdminCluster = "/api/admin/cluster";                         // GET (X-Admin-Key)
    public const string AdminKickUser = "/api/admin/users/{userId}/kick";            // POST (X-Admin-Key)
    public const string AdminDrainServer = "/api/admin/servers/{serverId}/drain";    // POST (X-Admin-Key)
}

/// <summary>What an administrator's kick did: the servers told to drop the user and the sessions ended.</summary>
public sealed record KickResponse(long UserId, IReadOnlyList<string> Servers, int SessionsEnded);

/// <summary>A drain request sent to a server, with how many users it held when asked.</summary>
public sealed record DrainResponse(string ServerId, int Users);
