using CimAspire.Delivery;
using CimAspire.Delivery.Dispatch;
using CimAspire.Delivery.Groups;
using CimAspire.Delivery.Messages;
using CimAspire.Delivery.Routes;
using CimAspire.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace CimAspire.Tests.Delivery;

/// <summary>One redis-server and one connection for a test class; tests keep apart by using fresh user and group ids.</summary>
public sealed class RedisFixture : IAsyncLifetime
{
    private static long s_nextUser = 1_000;

    public RedisProcess Redis { get; private set; } = null!;

    public ConnectionMultiplexer Connection { get; private set; } = null!;

    public static long NewUserId() => Interlocked.Add(ref s_nextUser, 1) + (Environment.ProcessId % 1000) * 1_000_000;

    public MessageStore CreateMessageStore(DeliveryOptions? options = null, TimeProvider? time = null)
        => new(Connection, Options.Create(options ?? new DeliveryOptions()), time ?? TimeProvider.System);

    public RouteStore CreateRouteStore() => new(Connection, TimeProvider.System);

    public GroupStore CreateGroupStore() => new(Connection, TimeProvider.System);

    public ServerInbox CreateInbox() => new(Connection, NullLogger<ServerInbox>.Instance);

    public async Task InitializeAsync()
    {
        Redis = await RedisProcess.StartAsync();
        Connection = await ConnectionMultiplexer.ConnectAsync(Redis.ConnectionString).WaitAsync(TimeSpan.FromSeconds(20));
    }

    public async Task DisposeAsync()
    {
        await Connection.DisposeAsync();
        await Redis.DisposeAsync();
    }
}
