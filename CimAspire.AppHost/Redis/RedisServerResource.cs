using CimAspire.AppHost.Infrastructure;

namespace CimAspire.AppHost.Redis;

/// <summary>Redis run locally as the distribution's <c>redis-server</c>; the connection string is <c>host:port</c>, as the container's.</summary>
public sealed class RedisServerResource(string name, string workingDirectory)
    : ExecutableResource(name, "redis-server", workingDirectory), IResourceWithConnectionString
{
    public const string PrimaryEndpointName = "tcp";

    public EndpointReference PrimaryEndpoint => field ??= new(this, PrimaryEndpointName);

    /// <summary>
    /// <c>127.0.0.1:port</c>: the server listens on IPv4 loopback only, and "localhost" may resolve to ::1 first.
    /// </summary>
    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{LocalExecutables.LoopbackAddress}:{PrimaryEndpoint.Property(EndpointProperty.Port)}");
}
