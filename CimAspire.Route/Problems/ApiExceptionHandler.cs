using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using StackExchange.Redis;

namespace CimAspire.Route.Problems;

/// <summary>
/// Turns what the client got wrong (unreadable JSON, a missing body, a wrong content type) into a 4xx problem with the reason,
/// and an unreachable Redis into 503; everything else stays a 500 without internals.
/// </summary>
public sealed partial class ApiExceptionHandler(IProblemDetailsService problems, ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        int status;
        string title;
        string detail;
        switch (exception)
        {
            case BadHttpRequestException bad:
                status = bad.StatusCode;
                title = status == StatusCodes.Status415UnsupportedMediaType ? "Unsupported media type" : "Bad request";
                detail = bad.InnerException is JsonException json ? $"{bad.Message} {json.Message}" : bad.Message;
                break;
            case RedisConnectionException or RedisTimeoutException:
                LogStoreUnavailable(logger, exception);
                status = StatusCodes.Status503ServiceUnavailable;
                title = "Service unavailable";
                detail = "The data store is not reachable right now; try again shortly.";
                break;
            default:
                return false;
        }

        httpContext.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        });
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Redis is unavailable")]
    private static partial void LogStoreUnavailable(ILogger logger, Exception exception);
}
