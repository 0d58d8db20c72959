using System.Security.Claims;
using CimAspire.Protocol;
using CimAspire.Route.Accounts;
using CimAspire.Route.Auth;
using CimAspire.Route.Extensions;
using CimAspire.Route.Problems;
using CimAspire.Route.Selection;
using CimAspire.Route.Sessions;
using CimAspire.ZooKeeper.Registry;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace CimAspire.Route.Apis;

public static class SessionsApi
{
    public static IEndpointRouteBuilder MapSessionsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/sessions").WithTags("Sessions");

        api.MapPost("/login", LoginAsync)
            .AllowAnonymous()
            .RequireRateLimiting(RateLimitPolicies.Login)
            .WithName("Login")
            .WithSummary("Checks the password, picks an IM server and returns its address with a token for it")
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        api.MapPost("/refresh", RefreshAsync)
            .RequireAuthorization()
            .WithMetadata(SessionCheckedByEndpoint.Instance)
            .WithName("Refresh")
            .WithSummary("A new server pick and token for a still-valid token, without the password (for reconnects)")
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        api.MapPost("/logout", LogoutAsync)
            .RequireAuthorization()
            .WithName("Logout")
            .WithSummary("Ends the session of the token; the token is refused afterwards")
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        return app;
    }

    public static async Task<Results<Ok<LoginResponse>, ValidationProblem, ProblemHttpResult>> LoginAsync(
        LoginRequestDto request,
        AccountStore accounts,
        ServerPicker picker,
        SessionService sessions,
        IOptions<RouteApiOptions> options,
        CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(request.UserName))
        {
            return ApiProblems.Invalid("userName", "The user name is required.");
        }

        if (string.IsNullOrEmpty(request.Password))
        {
            return ApiProblems.Invalid("password", "The password is required.");
        }

        // One answer for an unknown user and a wrong password, so the response does not reveal which names exist.
        var account = AccountStore.CheckUserName(request.UserName) is null && request.Password.Length <= AccountStore.MaxPasswordLength
            ? await accounts.VerifyPasswordAsync(request.UserName, request.Password)
            : null;
        if (account is null)
        {
            return ApiProblems.Unauthorized("The user name or the password is wrong.");
        }

        var server = await picker.PickAsync(account.UserId, avoidServerId: null, cancellationToken);
        if (server is null)
        {
            return ApiProblems.NoLiveServer();
        }

        var issued = await sessions.StartAsync(account.UserId, account.UserName, server.Id);
        return TypedResults.Ok(ToResponse(issued, server, options.Value));
    }

    public static async Task<Results<Ok<LoginResponse>, ProblemHttpResult>> RefreshAsync(
        RefreshRequest? request,
        ClaimsPrincipal user,
        ServerPicker picker,
        SessionService sessions,
        IOptions<RouteApiOptions> options,
        HttpResponse response,
        CancellationToken cancellationToken)
    {
        var server = await picker.PickAsync(user.UserId(), request?.AvoidServerId, cancellationToken);
        if (server is null)
        {
            return ApiProblems.NoLiveServer();
        }

        // Renewing is also the session check (SessionCheckedByEndpoint): it fails for a session that has ended.
        var issued = await sessions.RenewAsync(user.UserId(), user.UserName(), user.SessionId(), server.Id);
        if (issued is null)
        {
            response.Headers.WWWAuthenticate = "Bearer";
            return ApiProblems.Unauthorized("The session has ended (logged out or expired); log in again.");
        }

        return TypedResults.Ok(ToResponse(issued, server, options.Value));
    }

    public static async Task<NoContent> LogoutAsync(ClaimsPrincipal user, SessionService sessions)
    {
        await sessions.EndAsync(user.UserId(), user.SessionId());
        return TypedResults.NoContent();
    }

    private static LoginResponse ToResponse(IssuedToken issued, ServerRegistration server, RouteApiOptions options) => new(
        issued.Claims.UserId,
        issued.Claims.UserName,
        issued.Token,
        issued.Claims.ExpiresAt,
        new ServerEndpointDto(server.Id, server.Host, server.Port),
        new ReconnectPolicyDto(options.Reconnect.BaseDelayMs, options.Reconnect.MaxDelayMs, options.Reconnect.Jitter));
}
