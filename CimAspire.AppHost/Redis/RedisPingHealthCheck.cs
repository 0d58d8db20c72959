using System.Net.Sockets;
using CimAspire.AppHost.Infrastructure;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CimAspire.AppHost.Redis;

/// <summary>Healthy when the server answers <c>PING</c> with <c>+PONG</c> (it answers <c>-LOADING</c> while it replays its AOF).</summary>
internal sealed class RedisPingHealthCheck(IResourceWithConnectionString resource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var connectionString = await resource.ConnectionStringExpression.GetValueAsync(cancellationToken)
                ?? throw new InvalidOperationException("The Redis connection string is not available yet.");
            var answer = await TcpTextCommand.SendAsync(connectionString, "PING\r\n", readToEnd: false, cancellationToken);
            return answer.StartsWith("+PONG", StringComparison.Ordinal)
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy($"Redis answered PING with: {answer.Trim()}");
        }
        catch (SocketException e)
        {
            // Expected while the server starts or after it stopped: no stack trace needed.
            return HealthCheckResult.Unhealthy($"Redis does not answer PING: {e.SocketErrorCode}.");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy("Redis does not answer PING.", e);
        }
    }
}
