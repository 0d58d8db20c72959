namespace CimAspire.Delivery;

/// <summary>
/// Every Redis key CimAspire uses, built in one place. docs/data-model.md documents each (type, TTL, writers, readers).
/// Keys that change together share a hash tag (the part in braces) so the design works on Redis Cluster:
/// a conversation's keys are tagged by the conversation, a user's keys by the user.
/// </summary>
public static class RedisKeys
{
    private const string P = "cim:";

    // Accounts (route API).
    /// <summary>String counter: the last user id handed out.</summary>
    public const string UserIdCounter = P + "users:next-id";
    /// <summary>Hash: lower-case user name to user id (uniqueness and lookup by name).</summary>
    public const string UserNames = P + "users:by-name";
    /// <summary>Sorted set of lower-case user names, all scores 0, for prefix search (ZRANGEBYLEX).</summary>
    public const string UserNameIndex = P + "users:name-index";
    /// <summary>Hash: name, password hash, created.</summary>
    public static string User(long userId) => $"{P}user:{{u{userId}}}";
    /// <summary>String: the session id of the user's current login (absent after logout).</summary>
    public static string UserSession(long userId, string sessionId) => $"{P}user:{{u{userId}}}:session:{sessionId}";
    /// <summary>Set of the user's session ids (may hold expired ones), so all of a user's sessions can be ended at once.</summary>
    public static string UserSessions(long userId) => $"{P}user:{{u{userId}}}:sessions";

    // Routes and presence (written by IM servers, read by everyone).
    /// <summary>
    /// Hash: server id to "epoch:since-ms", one field per server holding the user. A field is removed only with its own
    /// epoch (or when its server is declared gone), so a stale server never wipes a newer route.
    /// </summary>
    public static string Route(long userId) => $"{P}route:{{u{userId}}}";
    /// <summary>String counter: the user's last route epoch. Never deleted, so epochs only grow.</summary>
    public static string RouteEpoch(long userId) => $"{P}route:{{u{userId}}}:epoch";
    /// <summary>Sorted set: user id to login time (ms) of every online user.</summary>
    public const string Online = P + "online";
    /// <summary>Set of the user ids an IM server holds, so its users go offline at once when it leaves.</summary>
    public static string ServerUsers(string serverId) => $"{P}server:{serverId}:users";
    /// <summary>Pub/sub channel of one IM server: <c>ServerBatch</c> frames for recipients it holds.</summary>
    public static string ServerChannel(string serverId) => $"{P}server:{serverId}:inbox";
    /// <summary>Hash: server id to its current connection count, as the servers report it (least-connections).</summary>
    public const string ServerLoad = P + "servers:load";

    // Conversations and messages (delivery core).
    /// <summary>String counter: the conversation's last sequence.</summary>
    public static string ConversationSeq(string conversationId) => $"{P}conv:{{{conversationId}}}:seq";
    /// <summary>Sorted set scored by sequence; each member is "{server-time-ms}:" followed by the serialized <c>ChatMessage</c>.</summary>
    public static string ConversationMessages(string conversationId) => $"{P}conv:{{{conversationId}}}:msgs";
    /// <summary>
    /// Sorted set: "{senderId}:{clientMsgId}" scored by the sequence it was stored under (idempotent send),
    /// trimmed with the messages.
    /// </summary>
    public static string ConversationClientIds(string conversationId) => $"{P}conv:{{{conversationId}}}:ids";
    /// <summary>Hash: user id to the highest sequence the user acknowledged (delivered) in the conversation.</summary>
    public static string ConversationDelivered(string conversationId) => $"{P}conv:{{{conversationId}}}:delivered";
    /// <summary>Hash: user id to the highest sequence the user has read in the conversation.</summary>
    public static string ConversationRead(string conversationId) => $"{P}conv:{{{conversationId}}}:read";
    /// <summary>Sorted set: the user's one-to-one conversation ids scored by last activity (ms).</summary>
    public static string UserConversations(long userId) => $"{P}user:{{u{userId}}}:convs";

    // Groups (route API writes membership; IM servers read it for fan-out).
    /// <summary>String counter: the last group id handed out (group 0 is the everyone room).</summary>
    public const string GroupIdCounter = P + "groups:next-id";
    /// <summary>Hash: name, owner, created.</summary>
    public static string Group(long groupId) => $"{P}group:{{g{groupId}}}";
    /// <summary>Set of member user ids.</summary>
    public static string GroupMembers(long groupId) => $"{P}group:{{g{groupId}}}:members";
    /// <summary>Set of the group ids the user belongs to (the everyone room is implicit).</summary>
    public static string UserGroups(long userId) => $"{P}user:{{u{userId}}}:groups";
}
