using CimAspire.ZooKeeper.Registry;

namespace CimAspire.Tests.Route;

/// <summary>An <see cref="IServerDirectory"/> the test controls, standing in for the ZooKeeper registry.</summary>
public sealed class TestServerDirectory : IServerDirectory
{
    private readonly Lock _gate = new();
    private IReadOnlyList<ServerRegistration> _servers = [];

    public IReadOnlyList<ServerRegistration> Servers => _servers;

    public event Action<ServerDirectoryChange>? Changed;

    public void Set(params ServerRegistration[] servers)
    {
        ServerDirectoryChange change;
        lock (_gate)
        {
            var before = _servers;
            _servers = servers;
            change = new ServerDirectoryChange(
                [.. servers.Where(s => before.All(b => b.Id != s.Id))],
                [.. before.Where(b => servers.All(s => s.Id != b.Id))]);
        }

        Changed?.Invoke(change);
    }

    public static ServerRegistration Registration(string id, int port, string host = "127.0.0.1") =>
        new(id, host, port, null, "test", DateTimeOffset.UtcNow, Environment.ProcessId);
}
