namespace CimAspire.AppHost.ZooKeeper;

/// <summary>ZooKeeper run locally from the distribution's jar: <c>java ... ZooKeeperServerMain zoo.cfg</c>.</summary>
public sealed class ZooKeeperServerResource(string name, string workingDirectory)
    : ExecutableResource(name, "java", workingDirectory), IZooKeeperResource
{
    internal const string MainClass = "org.apache.zookeeper.server.ZooKeeperServerMain";

    public EndpointReference PrimaryEndpoint => field ??= new(this, IZooKeeperResource.PrimaryEndpointName);

    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.HostAndPort)}");
}
