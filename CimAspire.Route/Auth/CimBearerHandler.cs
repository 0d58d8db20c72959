using System.Globalization;
using System.Security.Claims;
using System.Text.Encodings.Web;
using CimAspire.Protocol;
using CimAspire.Route.Sessions;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace CimAspire.Route.Auth;

/// <summary>
/// <c>Authorization: Bearer {token}</c>: a token signed with <c>Cim:TokenKey</c>, unexpired, whose session still exists
/// (logout deletes it). Any server id in the token is accepted: every token a login hands out opens the route API too.
/// </summary>
public sealed class CimBearerHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    AccessTokenCodec codec,
    SessionService sessions,
    TimeProvider time,
    IProblemDetailsService problems)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "CimBearer";
    public const string SessionIdClaim = "sid";
    public const string ServerIdClaim = "srv";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header))
        {
            return AuthenticateResult.NoResult();
        }

        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.Fail("The Authorization header must be 'Bearer {token}'.");
        }

        var status = codec.Validate(header["Bearer ".Length..].Trim(), time.GetUtcNow(), out var claims);
        switch (status)
        {
            case AccessTokenStatus.Expired:
                return AuthenticateResult.Fail("The token has expired; log in again.");
            case AccessTokenStatus.Valid when claims is not null:
                break;
            default:
                return AuthenticateResult.Fail("The token is not valid.");
        }

        if (string.IsNullOrEmpty(claims.SessionId)
            || (Context.GetEndpoint()?.Metadata.GetMetadata<SessionCheckedByEndpoint>() is null
                && !await sessions.IsActiveAsync(claims.UserId, claims.SessionId)))
        {
            return AuthenticateResult.Fail("The session has ended (logged out or expired); log in again.");
        }

        var identity = new ClaimsIdentity(
        [
            new Claim(ClaimTypes.NameIdentifier, claims.UserId.ToString(CultureInfo.InvariantCulture)),
            new Claim(ClaimTypes.Name, claims.UserName),
            new Claim(SessionIdClaim, claims.SessionId),
            new Claim(ServerIdClaim, claims.ServerId),
        ], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails =
            {
                Status = StatusCodes.Status401Unauthorized,
                Title = "Unauthorized",
                Detail = result.Failure?.Message ?? "A token is required: send 'Authorization: Bearer {token}' from login.",
            },
        });
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = { Status = StatusCodes.Status403Forbidden, Title = "Forbidden", Detail = "This token may not do that." },
        });
    }
}

/// <summary>
/// Endpoint metadata: the endpoint itself refuses a session that has ended, in the same Redis command that uses the session
/// (refresh renews it only if it exists), so the bearer handler skips its own read. Saves a round trip per reconnect.
/// </summary>
public sealed class SessionCheckedByEndpoint
{
    public static readonly SessionCheckedByEndpoint Instance = new();

    private SessionCheckedByEndpoint()
    {
    }
}

/// <summary>Who the authenticated caller is.</summary>
public static class CallerExtensions
{
    public static long UserId(this ClaimsPrincipal user) =>
        long.Parse(user.FindFirstValue(ClaimTypes.NameIdentifier)!, CultureInfo.InvariantCulture);

    public static string UserName(this ClaimsPrincipal user) => user.FindFirstValue(ClaimTypes.Name)!;

    public static string SessionId(this ClaimsPrincipal user) => user.FindFirstValue(CimBearerHandler.SessionIdClaim)!;
}
