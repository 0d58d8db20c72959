using CimAspire.ZooKeeper.Registry;

namespace CimAspire.ImServer.Registry;

/// <summary>Publishes this server in the service registry so the route API sends clients to it.</summary>
public interface IServerAnnouncer
{
    Task AnnounceAsync(ServerRegistration registration, CancellationToken cancellationToken);

    /// <summary>Removes the registration; called first on shutdown so no new client is sent here.</summary>
    Task WithdrawAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Raised when the registration had been lost (e.g. the registry session expired) and is published again: the route
    /// API may have taken this server for gone meanwhile and removed its users' routes.
    /// </summary>
    event Action? RegistrationRestored;
}

/// <summary>
/// Used when no registry is configured (tests of a single server, or a deployment that routes by other means):
/// the server is reachable, but no route API will send clients to it.
/// </summary>
public sealed partial class NoRegistryAnnouncer(ILogger<NoRegistryAnnouncer> logger) : IServerAnnouncer
{
    public Task AnnounceAsync(ServerRegistration registration, CancellationToken cancellationToken)
    {
        LogNotRegistered(registration.Id, registration.Host, registration.Port);
        return Task.CompletedTask;
    }

    public Task WithdrawAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    // Without a registry nothing is ever lost.
    public event Action? RegistrationRestored
    {
        add { }
        remove { }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No service registry configured: server {ServerId} at {Host}:{Port} is not registered")]
    private partial void LogNotRegistered(string serverId, string host, int port);
}
