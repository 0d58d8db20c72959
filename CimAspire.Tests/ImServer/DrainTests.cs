using CimAspire.Delivery.Dispatch;
using CimAspire.Delivery.Routes;
using CimAspire.Protocol;
using CimAspire.Tests.Delivery;
using CimAspire.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace CimAspire.Tests.ImServer;

public sealed class DrainTests : IAsyncLifetime
{
    private RedisProcess _redis = null!;
    private ConnectionMultiplexer _connection = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisProcess.StartAsync();
        _connection = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString).WaitAsync(TimeSpan.FromSeconds(20));
    }

    public async Task DisposeAsync()
    {
        await _connection.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task AStoppingServerKicksItsClientsWithDrainingAndReleasesTheirRoutes()
    {
        var server = await ImServerInstance.StartAsync(_redis.ConnectionString);
        var routes = server.Services.GetRequiredService<RouteStore>();
        var user = RedisFixture.NewUserId();
        await Tokens.CreateUserAsync(_connection, user);
        await using var client = await TestClient.LoginAsync(server, user);
        Assert.True((await routes.GetLoadsAsync().WaitAsync(TestClient.Timeout)).ContainsKey(server.Id));

        await server.DisposeAsync();

        var kick = await client.WaitForAsync(e => e.BodyCase == Envelope.BodyOneofCase.Kick);
        Assert.Equal(Kick.Types.Reason.Draining, kick.Kick.Reason);
        await client.Closed.Task.WaitAsync(TestClient.Timeout);
        var after = new RouteStore(_connection, TimeProvider.System);
        Assert.Empty(await after.GetRouteAsync(user).WaitAsync(TestClient.Timeout));
        Assert.False((await after.GetLoadsAsync().WaitAsync(TestClient.Timeout)).ContainsKey(server.Id));
    }

    [Fact]
    public async Task AnAdminKickThroughTheServerChannelDisconnectsTheUser()
    {
        await using var server = await ImServerInstance.StartAsync(_redis.ConnectionString);
        var user = RedisFixture.NewUserId();
        await Tokens.CreateUserAsync(_connection, user);
        await using var client = await TestClient.LoginAsync(server, user);

        // As the route API does: a dispatcher without local connections publishes on the server's channel.
        var routes = new RouteStore(_connection, TimeProvider.System);
        var dispatcher = new MessageDispatcher(routes, new CimAspire.Delivery.Groups.GroupStore(_connection, TimeProvider.System),
            new ServerInbox(_connection, Microsoft.Extensions.Logging.Abstractions.NullLogger<ServerInbox>.Instance));
        await dispatcher.KickAsync(server.Id, [user], new Kick { Reason = Kick.Types.Reason.Admin, Message = "bye" }).WaitAsync(TestClient.Timeout);

        var kick = await client.WaitForAsync(e => e.BodyCase == Envelope.BodyOneofCase.Kick);
        Assert.Equal(Kick.Types.Reason.Admin, kick.Kick.Reason);
        await client.Closed.Task.WaitAsync(TestClient.Timeout);
        await CrossServerDeliveryTests.Until(() => server.Sessions.ConnectionsOf(user).Count == 0);
        Assert.Empty(await routes.GetRouteAsync(user).WaitAsync(TestClient.Timeout));
    }
}
