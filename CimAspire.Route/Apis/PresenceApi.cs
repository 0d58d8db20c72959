using CimAspire.Protocol;
using CimAspire.Route.Presence;
using CimAspire.Route.Problems;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CimAspire.Route.Apis;

public static class PresenceApi
{
    public static IEndpointRouteBuilder MapPresenceApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/presence").WithTags("Presence").RequireAuthorization()
            .ProducesProblem(StatusCodes.Status401Unauthorized);

        api.MapGet("/", GetOnlineUsersAsync)
            .WithName("GetOnlineUsers")
            .WithSummary("Who is online, oldest login first, one zero-based page at a time (CIM's /onlineUser)");
        api.MapGet("/{userId:long}", GetPresenceAsync)
            .WithName("GetPresence")
            .WithSummary("Whether a user is online and on which IM server");
        return app;
    }

    public static async Task<Results<Ok<OnlineUsersPage>, ValidationProblem>> GetOnlineUsersAsync(
        PresenceReader presence, CancellationToken cancellationToken, int page = 0, int pageSize = 50)
    {
        if (page < 0)
        {
            return ApiProblems.Invalid("page", "The page must be 0 or more (pages count from 0).");
        }

        if (pageSize is < 1 or > PresenceReader.MaxPageSize)
        {
            return ApiProblems.Invalid("pageSize", $"The page size must be between 1 and {PresenceReader.MaxPageSize}.");
        }

        return TypedResults.Ok(await presence.GetOnlinePageAsync(page, pageSize, cancellationToken));
    }

    public static async Task<Results<Ok<PresenceDto>, ProblemHttpResult>> GetPresenceAsync(
        long userId, PresenceReader presence, CancellationToken cancellationToken) =>
        await presence.GetAsync(userId, cancellationToken) is { } found
            ? TypedResults.Ok(found)
            : ApiProblems.NotFound($"There is no user {userId}.");
}
