using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace CimAspire.Route.Extensions;

/// <summary>Fixed-window limits per client IP address on the endpoints that cost a password hash.</summary>
public static class RateLimitPolicies
{
    public const string Register = "register";
    public const string Login = "login";

    public static IServiceCollection AddRouteRateLimiting(this IServiceCollection services)
    {
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<RouteApiOptions>>((limiter, route) =>
        {
            limiter.AddPolicy(Register, context => Partition(context, route.Value.RegisterRateLimit));
            limiter.AddPolicy(Login, context => Partition(context, route.Value.LoginRateLimit));
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = async (rejected, cancellationToken) =>
            {
                var http = rejected.HttpContext;
                var detail = "Too many requests from this address; try again later.";
                if (rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter))
                {
                    var seconds = (int)Math.Ceiling(retryAfter.TotalSeconds);
                    http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                    detail = $"Too many requests from this address; try again in {seconds} s.";
                }

                http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = http,
                    ProblemDetails = { Status = StatusCodes.Status429TooManyRequests, Title = "Too many requests", Detail = detail },
                });
            };
        });
        services.AddRateLimiter(_ => { });
        return services;
    }

    // Behind a proxy, enable forwarded headers so RemoteIpAddress is the client's, not the proxy's.
    private static RateLimitPartition<string> Partition(HttpContext context, RateLimitOptions limit) =>
        RateLimitPartition.GetFixedWindowLimiter(
            context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
            _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = limit.PermitLimit,
                Window = TimeSpan.FromSeconds(limit.WindowSeconds),
                QueueLimit = 0,
            });
}
