using CimAspire.Tests.Delivery;
using CimAspire.Tests.Infrastructure;
using StackExchange.Redis;

namespace CimAspire.Tests.ImServer;

/// <summary>One Redis and two IM servers in this process, like two replicas of the cluster.</summary>
public sealed class TwoServerFixture : IAsyncLifetime
{
    public RedisProcess Redis { get; private set; } = null!;

    public ConnectionMultiplexer Connection { get; private set; } = null!;

    public ImServerInstance A { get; private set; } = null!;

    public ImServerInstance B { get; private set; } = null!;

    /// <summary>A fresh user with an account record.</summary>
    public Task<long> NewUserAsync() => Tokens.NewUserAsync(Connection);

    public async Task InitializeAsync()
    {
        Redis = await RedisProcess.StartAsync();
        Connection = await ConnectionMultiplexer.ConnectAsync(Redis.ConnectionString).WaitAsync(TimeSpan.FromSeconds(20));
        A = await ImServerInstance.StartAsync(Redis.ConnectionString);
        B = await ImServerInstance.StartAsync(Redis.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        await A.DisposeAsync();
        await B.DisposeAsync();
        await Connection.DisposeAsync();
        await Redis.DisposeAsync();
    }
}
