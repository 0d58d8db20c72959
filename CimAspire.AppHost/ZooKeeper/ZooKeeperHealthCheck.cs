using System.Net.Sockets;
using CimAspire.AppHost.Infrastructure;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CimAspire.AppHost.ZooKeeper;

/// <summary>
/// Healthy once the server serves requests: <c>ruok</c> only proves the port is open, while <c>srvr</c>
/// reports a <c>Mode:</c> line only when the server is serving.
/// </summary>
internal sealed class ZooKeeperHealthCheck(IZooKeeperResource resource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var connectionString = await resource.ConnectionStringExpression.GetValueAsync(cancellationToken)
                ?? throw new InvalidOperationException("The ZooKeeper connection string is not available yet.");
            var answer = await TcpTextCommand.SendAsync(connectionString, "srvr", readToEnd: true, cancellationToken);
            return answer.Contains("Mode:", StringComparison.Ordinal)
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy($"ZooKeeper is not serving yet: {answer.Trim()}");
        }
        catch (SocketException e)
        {
            // Expected while the server starts or after it stopped: no stack trace needed.
            return HealthCheckResult.Unhealthy($"ZooKeeper does not answer srvr: {e.SocketErrorCode}.");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy("ZooKeeper does not answer srvr.", e);
        }
    }
}
