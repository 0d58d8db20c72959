using CimAspire.Delivery.Dispatch;
using CimAspire.Protocol;
using Microsoft.Extensions.DependencyInjection;

namespace CimAspire.Tests.Route;

/// <summary>Listens on an IM server's Redis channel as that server would, and waits for a matching delivery.</summary>
public sealed class ServerChannelProbe : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly List<ServerDelivery> _received = [];
    private readonly List<(Func<ServerDelivery, bool> Match, TaskCompletionSource<ServerDelivery> Done)> _waiters = [];
    private IAsyncDisposable? _subscription;

    public static async Task<ServerChannelProbe> StartAsync(IServiceProvider services, string serverId)
    {
        var probe = new ServerChannelProbe();
        probe._subscription = await services.GetRequiredService<ServerInbox>()
            .SubscribeAsync(serverId, probe.OnBatch)
            .WaitAsync(RouteApiTestExtensions.Timeout);
        return probe;
    }

    private void OnBatch(ServerBatch batch)
    {
        lock (_gate)
        {
            foreach (var item in batch.Items)
            {
                _received.Add(item);
                foreach (var waiter in _waiters.Where(w => w.Match(item)).ToList())
                {
                    _waiters.Remove(waiter);
                    waiter.Done.TrySetResult(item);
                }
            }
        }
    }

    public Task<ServerDelivery> WaitForAsync(Func<ServerDelivery, bool> match)
    {
        lock (_gate)
        {
            if (_received.FirstOrDefault(match) is { } seen)
            {
                return Task.FromResult(seen);
            }

            var done = new TaskCompletionSource<ServerDelivery>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((match, done));
            return done.Task.WaitAsync(RouteApiTestExtensions.Timeout);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_subscription is not null)
        {
            await _subscription.DisposeAsync();
        }
    }
}
