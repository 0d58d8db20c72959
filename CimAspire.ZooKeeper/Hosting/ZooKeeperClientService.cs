using Microsoft.Extensions.Hosting;

namespace CimAspire.ZooKeeper.Hosting;

/// <summary>Starts the client in the background (startup never waits for ZooKeeper) and closes its session on shutdown.</summary>
internal sealed class ZooKeeperClientService(ZooKeeperClient client) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        client.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        return client.CloseAsync(cancellationToken);
    }
}
