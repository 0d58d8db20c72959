using System.Globalization;

namespace CimAspire.Client.Routing;

/// <summary>Every route API path the SDK calls, in one place so a change is one edit.</summary>
internal static class RouteApiPaths
{
    public const string Accounts = "api/accounts";
    public const string Sessions = "api/sessions";
    public const string SessionsRefresh = "api/sessions/refresh";
    public const string Presence = "api/presence";
    public const string Groups = "api/groups";
    public const string Messages = "api/messages";
    public const string Conversations = "api/conversations";

    public static string Account(long userId) => $"api/accounts/{Num(userId)}";

    public static string AccountByName(string userName) => $"api/accounts/by-name/{Uri.EscapeDataString(userName)}";

    public static string AccountSearch(string prefix, int limit) =>
        $"api/accounts?prefix={Uri.EscapeDataString(prefix)}&limit={Num(limit)}";

    public static string OnlineUsers(int page, int pageSize) => $"api/presence?page={Num(page)}&pageSize={Num(pageSize)}";

    public static string PresenceOf(long userId) => $"api/presence/{Num(userId)}";

    public static string GroupMembers(long groupId) => $"api/groups/{Num(groupId)}/members";

    public static string MyMembership(long groupId) => $"api/groups/{Num(groupId)}/members/me";

    public static string History(string conversationId, long? beforeSeq, int limit) =>
        $"api/conversations/{Uri.EscapeDataString(conversationId)}/messages?"
        + (beforeSeq is { } before ? $"beforeSeq={Num(before)}&" : string.Empty)
        + $"limit={Num(limit)}";

    private static string Num(long value) => value.ToString(CultureInfo.InvariantCulture);
}
