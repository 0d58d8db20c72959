using CimAspire.ZooKeeper;
using CimAspire.ZooKeeper.Registry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using static CimAspire.Tests.ZooKeeper.ZooKeeperTestSupport;

namespace CimAspire.Tests.ZooKeeper;

/// <summary>The Aspire-style integration: configuration, the hosted client, the health check and the registry roles.</summary>
public class ZooKeeperHostingTests(ZooKeeperServerFixture fixture) : IClassFixture<ZooKeeperServerFixture>
{
    [Fact]
    public async Task Hosted_client_connects_reports_healthy_and_the_registry_roles_work_end_to_end()
    {
        var root = UniquePath("/hosted");
        await using var observer = await ConnectAsync(fixture.Server.ConnectionString);
        using var host = BuildHost(new()
        {
            ["ConnectionStrings:zookeeper"] = fixture.Server.ConnectionString,
            ["Cim:ZooKeeper:SessionTimeout"] = "00:00:04",
            ["Cim:ZooKeeper:MaxFrameBytes"] = "65536",
            ["Cim:Registry:Root"] = root,
        });

        var options = host.Services.GetRequiredService<IOptions<ZooKeeperClientOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(4), options.SessionTimeout);
        Assert.Equal(65536, options.MaxFrameBytes);
        Assert.Same(host.Services.GetRequiredService<ServerDirectory>(), host.Services.GetRequiredService<IServerDirectory>());

        await host.StartAsync().WaitAsync(TestTimeout);
        var client = host.Services.GetRequiredService<ZooKeeperClient>();
        await client.WaitUntilConnectedAsync().WaitAsync(TestTimeout);
        var health = host.Services.GetRequiredService<HealthCheckService>();
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync(c => c.Name == "zookeeper").WaitAsync(TestTimeout)).Status);

        var directory = host.Services.GetRequiredService<ServerDirectory>();
        await directory.WaitForInitialLoadAsync().WaitAsync(TestTimeout);
        var registration = ServerRegistryTests.Registration("hosted-1", 7100);
        await host.Services.GetRequiredService<ServerRegistrar>().RegisterAsync(registration).WaitAsync(TestTimeout);
        await Until(() => Task.FromResult(directory.Servers.Count == 1), "the hosted directory lists the hosted server");
        Assert.NotNull(await observer.ExistsAsync($"{root}/hosted-1").WaitAsync(TestTimeout));

        // Stopping the host deregisters and closes the session.
        await host.StopAsync().WaitAsync(TestTimeout);
        Assert.Null(await observer.ExistsAsync($"{root}/hosted-1").WaitAsync(TestTimeout));
        Assert.Equal(ZooKeeperConnectionState.Closed, client.State);
        Assert.Equal(HealthStatus.Unhealthy, (await health.CheckHealthAsync(c => c.Name == "zookeeper").WaitAsync(TestTimeout)).Status);
    }

    [Fact]
    public async Task Host_starts_without_waiting_for_an_unreachable_zookeeper_and_reports_unhealthy()
    {
        using var host = BuildHost(new()
        {
            ["ConnectionStrings:zookeeper"] = $"127.0.0.1:{Infrastructure.TestPorts.GetFreePort()}",
            ["Cim:ZooKeeper:SessionTimeout"] = "00:00:02",
        });
        await host.StartAsync().WaitAsync(TestTimeout);
        var health = host.Services.GetRequiredService<HealthCheckService>();
        Assert.Equal(HealthStatus.Unhealthy, (await health.CheckHealthAsync(c => c.Name == "zookeeper").WaitAsync(TestTimeout)).Status);
        await host.StopAsync().WaitAsync(TestTimeout);
    }

    [Theory]
    [InlineData("ConnectionStrings:zookeeper", "")]
    [InlineData("ConnectionStrings:zookeeper", "host:notaport")]
    [InlineData("Cim:ZooKeeper:MaxFrameBytes", "10")]
    [InlineData("Cim:Registry:Root", "relative/root")]
    public async Task Invalid_configuration_fails_at_startup(string key, string value)
    {
        var settings = new Dictionary<string, string?> { ["ConnectionStrings:zookeeper"] = "127.0.0.1:2181" };
        settings[key] = value;
        using var host = BuildHost(settings);
        await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().WaitAsync(TestTimeout));
    }

    private static IHost BuildHost(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddZooKeeperClient("zookeeper");
        builder.AddServerRegistrar();
        builder.AddServerDirectory();
        return builder.Build();
    }
}
