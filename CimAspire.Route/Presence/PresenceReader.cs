using CimAspire.Delivery.Routes;
using CimAspire.Protocol;
using CimAspire.Route.Accounts;

namespace CimAspire.Route.Presence;

/// <summary>Presence as the API shows it: the delivery core's routes and online set, with the users' names.</summary>
public sealed class PresenceReader(RouteStore routes, AccountStore accounts)
{
    public const int MaxPageSize = 500;

    /// <summary>One page (zero-based) of the online users, oldest login first.</summary>
    public async Task<OnlineUsersPage> GetOnlinePageAsync(int page, int pageSize, CancellationToken cancellationToken)
    {
        var total = routes.GetOnlineCountAsync(cancellationToken);
        var entries = await routes.GetOnlinePageAsync((long)page * pageSize, pageSize, cancellationToken);
        var ids = entries.Select(e => e.UserId).ToList();
        var lookup = accounts.GetNamesAsync(ids);
        var found = await routes.GetRoutesAsync(ids, cancellationToken);
        var names = await lookup;
        var users = entries.Select(e => new PresenceDto(
            e.UserId,
            names.GetValueOrDefault(e.UserId, ""),
            true,
            Newest(found.GetValueOrDefault(e.UserId))?.ServerId,
            e.Since)).ToList();
        return new OnlineUsersPage(users, await total, page, pageSize);
    }

    public async Task<PresenceDto?> GetAsync(long userId, CancellationToken cancellationToken)
    {
        var account = await accounts.GetAsync(userId);
        if (account is null)
        {
            return null;
        }

        var route = Newest(await routes.GetRouteAsync(userId, cancellationToken));
        return new PresenceDto(userId, account.UserName, route is not null, route?.ServerId, route?.Since);
    }

    /// <summary>Which of the users are online (have a route on some server).</summary>
    public async Task<IReadOnlySet<long>> OnlineAmongAsync(IReadOnlyCollection<long> userIds, CancellationToken cancellationToken) =>
        (await routes.GetRoutesAsync(userIds, cancellationToken)).Keys.ToHashSet();

    // A user on several devices is shown on the server of the latest login.
    private static RouteEntry? Newest(IReadOnlyList<RouteEntry>? entries) => entries?.MaxBy(e => e.Since);
}
