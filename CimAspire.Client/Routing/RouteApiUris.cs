using System.Globalization;
using CimAspire.Protocol;

namespace CimAspire.Client.Routing;

/// <summary>
/// Fills the route API's path templates (<see cref="RouteApiPaths"/>, shared with the route API) for the SDK.
/// Paths are relative, so a route API behind a path prefix works too.
/// </summary>
internal static class RouteApiUris
{
    public static readonly string Accounts = Relative(RouteApiPaths.Accounts);
    public static readonly string Login = Relative(RouteApiPaths.Login);
    public static readonly string Refresh = Relative(RouteApiPaths.Refresh);
    public static readonly string Logout = Relative(RouteApiPaths.Logout);
    public static readonly string Groups = Relative(RouteApiPaths.Groups);
    public static readonly string Messages = Relative(RouteApiPaths.Messages);
    public static readonly string Conversations = Relative(RouteApiPaths.Conversations);

    public static string Account(long userId) => Fill(RouteApiPaths.Account, "{userId}", Num(userId));

    public static string AccountByName(string userName) =>
        Fill(RouteApiPaths.AccountByName, "{userName}", Uri.EscapeDataString(userName));

    public static string AccountSearch(string prefix, int limit) =>
        $"{Accounts}?prefix={Uri.EscapeDataString(prefix)}&limit={Num(limit)}";

    public static string OnlineUsers(int page, int pageSize) =>
        $"{Relative(RouteApiPaths.OnlineUsers)}?page={Num(page)}&pageSize={Num(pageSize)}";

    public static string PresenceOf(long userId) => Fill(RouteApiPaths.UserPresence, "{userId}", Num(userId));

    public static string GroupJoin(long groupId) => Fill(RouteApiPaths.GroupJoin, "{groupId}", Num(groupId));

    public static string GroupLeave(long groupId) => Fill(RouteApiPaths.GroupLeave, "{groupId}", Num(groupId));

    public static string GroupMembers(long groupId) => Fill(RouteApiPaths.GroupMembers, "{groupId}", Num(groupId));

    public static string History(string conversationId, long? beforeSeq, int limit) =>
        Fill(RouteApiPaths.ConversationMessages, "{conversationId}", Uri.EscapeDataString(conversationId)) + "?"
        + (beforeSeq is { } before ? $"beforeSeq={Num(before)}&" : string.Empty)
        + $"limit={Num(limit)}";

    private static string Fill(string template, string hole, string value) => Relative(template).Replace(hole, value, StringComparison.Ordinal);

    private static string Relative(string path) => path.TrimStart('/');

    private static string Num(long value) => value.ToString(CultureInfo.InvariantCulture);
}
