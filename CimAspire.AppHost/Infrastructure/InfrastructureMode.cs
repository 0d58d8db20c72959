namespace CimAspire.AppHost.Infrastructure;

/// <summary>How Redis and ZooKeeper run: as containers, or as local executables from the distribution's packages.</summary>
public enum InfrastructureMode
{
    /// <summary>Containers when a container runtime answers, local executables otherwise.</summary>
    Auto,

    /// <summary>Official images (needs Docker or Podman).</summary>
    Container,

    /// <summary>Debian's <c>redis-server</c> and ZooKeeper on ports Aspire allocates.</summary>
    Local,
}
