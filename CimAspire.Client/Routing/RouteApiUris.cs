using System.Globalization;
using CimAspire.Protocol;

namespace CimAspire.Client.Routing;

/// <summary>
/// Fills in the route API's paths (<see cref="RouteApiPaths"/>, the one list shared with the route API). Relative to
/// the configured base address, so a route API behind a path prefix works too.
/// </summary>
internal static class RouteApiUris
{
    public static string Accounts => Relative(RouteApiPaths.Accounts);

    public static string Login => Relative(RouteApiPaths.Login);

    public static string Refresh => Relative(RouteApiPaths.Refresh);

    public static string Logout => Relative(RouteApiPaths.Logout);

    public static string Groups => Relative(RouteApiPaths.Groups);

    public static string Conversations => Relative(RouteApiPaths.Conversations);

    public static string Account(long userId) => Fill(RouteApiPaths.Account, "{userId}", Num(userId));

    public static string AccountByName(string userName) => Fill(RouteApiPaths.AccountByName, "{userName}", Uri.EscapeDataString(userName));

    public static string AccountSearch(string prefix, int limit) =>
        $"{Relative(RouteApiPaths.Accounts)}?prefix={Uri.EscapeDataString(prefix)}&limit={Num(limit)}";

    public static string OnlineUsers(int page, int pageSize) => $"{Relative(RouteApiPaths.OnlineUsers)}?page={Num(page)}&pageSize={Num(pageSize)}";

    public static string PresenceOf(long userId) => Fill(RouteApiPaths.UserPresence, "{userId}", Num(userId));

    public static string GroupJoin(long groupId) => Fill(RouteApiPaths.GroupJoin, "{groupId}", Num(groupId));

    public static string GroupLeave(long groupId) => Fill(RouteApiPaths.GroupLeave, "{groupId}", Num(groupId));

    public static string GroupMembers(long groupId) => Fill(RouteApiPaths.GroupMembers, "{groupId}", Num(groupId));

    public static string History(string conversationId, long? beforeSeq, int limit) =>
        Fill(RouteApiPaths.ConversationMessages, "{conversationId}", Uri.EscapeDataString(conversationId)) + "?"
        + (beforeSeq is { } before ? $"beforeSeq={Num(before)}&" : string.Empty)
        + $"limit={Num(limit)}";

    private static string Fill(string template, string name, string value) => Relative(template.Replace(name, value, StringComparison.Ordinal));

    private static string Relative(string path) => path.TrimStart('/');

    private static string Num(long value) => value.ToString(CultureInfo.InvariantCulture);
}
