using CimAspire.AppHost.Infrastructure;

namespace CimAspire.AppHost.ZooKeeper;

/// <summary>ZooKeeper run locally from the distribution's jar: <c>java ... ZooKeeperServerMain zoo.cfg</c>.</summary>
public sealed class ZooKeeperServerResource(string name, string workingDirectory)
    : ExecutableResource(name, "java", workingDirectory), IZooKeeperResource
{
    internal const string MainClass = "org.apache.zookeeper.server.ZooKeeperServerMain";

    public EndpointReference PrimaryEndpoint => field ??= new(this, IZooKeeperResource.PrimaryEndpointName);

    /// <summary>
    /// <c>127.0.0.1:port</c>: the server listens on IPv4 loopback only, and "localhost" may resolve to ::1 first.
    /// </summary>
    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{LocalExecutables.LoopbackAddress}:{PrimaryEndpoint.Property(EndpointProperty.Port)}");
}
