using System.Globalization;
using CimAspire.AppHost.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CimAspire.AppHost.ZooKeeper;

public static class ZooKeeperBuilderExtensions
{
    /// <summary>The four-letter words the health check and the tests use; every other one stays disabled.</summary>
    internal const string FourLetterWords = "srvr,ruok,stat";

    /// <summary>
    /// Adds a standalone ZooKeeper server with a <c>tcp</c> endpoint, a connection string <c>host:port</c>
    /// and a health check that asks it <c>srvr</c>; a container or a local executable as <paramref name="infrastructure"/> decides.
    /// </summary>
    public static IResourceBuilder<IZooKeeperResource> AddZooKeeper(
        this IDistributedApplicationBuilder builder, [ResourceName] string name, CimInfrastructure infrastructure)
    {
        IResourceBuilder<IZooKeeperResource> zookeeper = infrastructure.IsLocal
            ? builder.AddLocalZooKeeper(name, infrastructure)
            : builder.AddZooKeeperContainer(name);

        var healthCheckKey = $"{name}_check";
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            healthCheckKey, _ => new ZooKeeperHealthCheck(zookeeper.Resource), failureStatus: null, tags: null));
        return zookeeper.WithHealthCheck(healthCheckKey);
    }

    private static IResourceBuilder<ZooKeeperResource> AddZooKeeperContainer(this IDistributedApplicationBuilder builder, string name) =>
        builder.AddResource(new ZooKeeperResource(name))
            .WithImage(ZooKeeperResource.Image, ZooKeeperResource.Tag)
            .WithImageRegistry("docker.io")
            .WithEndpoint(targetPort: ZooKeeperResource.ClientPort, name: IZooKeeperResource.PrimaryEndpointName, scheme: "tcp")
            .WithEnvironment("ZOO_4LW_COMMANDS_WHITELIST", FourLetterWords)
            .WithEnvironment("ZOO_ADMINSERVER_ENABLED", "false");

    private static IResourceBuilder<ZooKeeperServerResource> AddLocalZooKeeper(
        this IDistributedApplicationBuilder builder, string name, CimInfrastructure infrastructure)
    {
        var classPath = LocalExecutables.ZooKeeperClassPath(builder.Configuration);
        string ConfigPath() => Path.Combine(infrastructure.GetDataDirectory(name), "zoo.cfg");

        // Not proxied: ZooKeeper reads its port from zoo.cfg, so the port must be known before it starts,
        // and Aspire allocates a proxyless endpoint's port up front.
        return builder.AddResource(new ZooKeeperServerResource(name, builder.AppHostDirectory))
            .WithEndpoint(name: IZooKeeperResource.PrimaryEndpointName, scheme: "tcp", isProxied: false)
            .WithArgs(context =>
            {
                context.Args.Add("-Xmx256m");
                context.Args.Add("-cp");
                context.Args.Add(classPath);
                context.Args.Add(ZooKeeperServerResource.MainClass);
                context.Args.Add(ConfigPath());
            })
            .OnBeforeResourceStarted(async (zookeeper, _, cancellationToken) =>
            {
                var port = await zookeeper.PrimaryEndpoint.Property(EndpointProperty.Port).GetValueAsync(cancellationToken);
                var dataDirectory = Directory.CreateDirectory(Path.Combine(infrastructure.GetDataDirectory(name), "data")).FullName;
                string[] config =
                [
                    "tickTime=1000",
                    $"dataDir={dataDirectory}",
                    $"clientPort={int.Parse(port!, CultureInfo.InvariantCulture)}",
                    $"clientPortAddress={LocalExecutables.LoopbackAddress}",
                    // Every replica and test connects from 127.0.0.1; the default limit of 60 per address is too low.
                    "maxClientCnxns=0",
                    // Otherwise Jetty's admin server binds port 8080.
                    "admin.enableServer=false",
                    $"4lw.commands.whitelist={FourLetterWords}",
                ];
                await File.WriteAllLinesAsync(ConfigPath(), config, cancellationToken);
            });
    }
}
