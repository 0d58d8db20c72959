using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CimAspire.ZooKeeper.Hosting;

/// <summary>Healthy while the client is connected with a live session.</summary>
internal sealed class ZooKeeperHealthCheck(ZooKeeperClient client) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>
        {
            ["state"] = client.State.ToString(),
            ["sessionId"] = $"0x{client.SessionId:x}",
        };
        if (client.ConnectedServer is { } server)
        {
            data["server"] = $"{server.Host}:{server.Port}";
        }

        return Task.FromResult(client.State == ZooKeeperConnectionState.Connected
            ? HealthCheckResult.Healthy("Connected to ZooKeeper.", data)
            : HealthCheckResult.Unhealthy($"ZooKeeper client is {client.State}.", data: data));
    }
}
