using CimAspire.ZooKeeper.Registry;

namespace CimAspire.ImServer.Registry;

/// <summary>Announces the server as its ephemeral node in ZooKeeper (<c>/cim/servers/&lt;id&gt;</c>).</summary>
public sealed class ZooKeeperAnnouncer(ServerRegistrar registrar) : IServerAnnouncer
{
    public Task AnnounceAsync(ServerRegistration registration, CancellationToken cancellationToken)
        => registrar.RegisterAsync(registration, cancellationToken);

    public Task WithdrawAsync(CancellationToken cancellationToken) => registrar.DeregisterAsync(cancellationToken);

    public event Action? RegistrationRestored
    {
        add => registrar.RegistrationRestored += value;
        remove => registrar.RegistrationRestored -= value;
    }
}
