namespace CimAspire.AppHost.ZooKeeper;

/// <summary>ZooKeeper from the official <c>zookeeper</c> image.</summary>
public sealed class ZooKeeperResource(string name) : ContainerResource(name), IZooKeeperResource
{
    internal const string Image = "zookeeper";
    internal const string Tag = "3.9";
    internal const int ClientPort = 2181;

    public EndpointReference PrimaryEndpoint => field ??= new(this, IZooKeeperResource.PrimaryEndpointName);

    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.HostAndPort)}");
}
