using CimAspire.Delivery.Dispatch;
using CimAspire.Delivery.Routes;
using CimAspire.Protocol;
using CimAspire.Route.Accounts;
using CimAspire.Route.Auth;
using CimAspire.Route.Problems;
using CimAspire.Route.Sessions;
using CimAspire.ZooKeeper.Registry;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CimAspire.Route.Apis;

/// <summary>Administration, with the <c>X-Admin-Key</c> header: the cluster at a glance, kicking users, draining servers.</summary>
public static class AdminApi
{
    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/admin").WithTags("Administration")
            .RequireAuthorization(AdminKeyHandler.PolicyName)
            .ProducesProblem(StatusCodes.Status401Unauthorized);

        api.MapGet("/cluster", GetClusterAsync)
            .WithName("GetCluster")
            .WithSummary("The live IM servers with their connections, and how many users are online");
        api.MapPost("/users/{userId:long}/kick", KickAsync)
            .WithName("KickUser")
            .WithSummary("Ends every session of a user and drops the user's connections on every server");
        api.MapPost("/servers/{serverId}/drain", DrainAsync)
            .WithName("DrainServer")
            .WithSummary("Asks an IM server to move its users away (they log in again elsewhere) and stop");
        return app;
    }

    public static async Task<Ok<ClusterOverviewDto>> GetClusterAsync(
        IServerDirectory directory, RouteStore routes, CancellationToken cancellationToken)
    {
        var loads = routes.GetLoadsAsync(cancellationToken);
        var online = routes.GetOnlineCountAsync(cancellationToken);
        var reported = await loads;
        var servers = directory.Servers
            .OrderBy(s => s.Id, StringComparer.Ordinal)
            .Select(s => new ServerOverviewDto(s.Id, s.Host, s.Port, reported.GetValueOrDefault(s.Id), s.StartedAt, s.Version))
            .ToList();
        return TypedResults.Ok(new ClusterOverviewDto(servers, await online));
    }

    public static async Task<Results<Ok<KickResponse>, ProblemHttpResult>> KickAsync(
        long userId,
        AccountStore accounts,
        SessionService sessions,
        RouteStore routes,
        MessageDispatcher dispatcher,
        CancellationToken cancellationToken)
    {
        if (await accounts.GetAsync(userId) is null)
        {
            return ApiProblems.NotFound($"There is no user {userId}.");
        }

        // Sessions first, so the kicked client cannot refresh its way straight back in.
        var ended = await sessions.EndAllAsync(userId);
        var servers = (await routes.GetRouteAsync(userId, cancellationToken)).Select(r => r.ServerId).Distinct().ToList();
        var kick = new Kick { Reason = Kick.Types.Reason.Admin, Message = "An administrator ended your session." };
        await Task.WhenAll(servers.Select(server => dispatcher.KickAsync(server, [userId], kick, cancellationToken)));
        return TypedResults.Ok(new KickResponse(userId, servers, ended));
    }

    public static async Task<Results<Accepted<DrainResponse>, ProblemHttpResult>> DrainAsync(
        string serverId,
        IServerDirectory directory,
        RouteStore routes,
        MessageDispatcher dispatcher,
        CancellationToken cancellationToken)
    {
        if (directory.Servers.All(s => s.Id != serverId))
        {
            return ApiProblems.NotFound($"There is no live IM server '{serverId}'.");
        }

        var users = await routes.GetServerUsersAsync(serverId, cancellationToken);
        var kick = new Kick { Reason = Kick.Types.Reason.Draining, Message = "The server is shutting down; log in again." };
        await dispatcher.KickAllAsync(serverId, kick, cancellationToken);
        return TypedResults.Accepted((string?)null, new DrainResponse(serverId, users.Count));
    }
}
