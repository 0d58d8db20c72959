namespace CimAspire.AppHost.ZooKeeper;

/// <summary>
/// A ZooKeeper server, as a container or as a local executable: either way one <c>tcp</c> endpoint
/// and the connection string <c>host:port</c>.
/// </summary>
public interface IZooKeeperResource : IResourceWithConnectionString, IResourceWithEndpoints
{
    public const string PrimaryEndpointName = "tcp";

    EndpointReference PrimaryEndpoint { get; }
}
