using CimAspire.AppHost.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CimAspire.AppHost.Redis;

public static class CimRedisBuilderExtensions
{
    // Messages live in Redis: every write reaches the append-only file before it is acknowledged.
    private static readonly string[] PersistenceArgs = ["--appendonly", "yes", "--appendfsync", "always"];

    /// <summary>
    /// Adds Redis with append-only persistence and a health check; a container (Aspire.Hosting.Redis) or a local
    /// <c>redis-server</c> as <paramref name="infrastructure"/> decides. Both give the connection string <c>host:port</c>
    /// (no password: the server listens on loopback only).
    /// </summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddCimRedis(
        this IDistributedApplicationBuilder builder, [ResourceName] string name, CimInfrastructure infrastructure) =>
        infrastructure.IsLocal ? builder.AddLocalRedis(name, infrastructure) : builder.AddRedisContainer(name);

    // Plain TCP keeps the connection string "host:port", as in local mode.
#pragma warning disable ASPIRECERTIFICATES001
    private static IResourceBuilder<RedisResource> AddRedisContainer(this IDistributedApplicationBuilder builder, string name) =>
        builder.AddRedis(name)
            .WithPassword(null)
            .WithoutHttpsCertificate()
            .WithDataVolume()
            .WithArgs(context =>
            {
                // AddRedis runs "/bin/sh -c 'redis-server ...'"; the flags belong inside that command line.
                var command = context.Args.IndexOf("-c") + 1;
                if (command > 0 && command < context.Args.Count && context.Args[command] is string line)
                {
                    context.Args[command] = $"{line} {string.Join(' ', PersistenceArgs)}";
                }
                else
                {
                    foreach (var arg in PersistenceArgs)
                    {
                        context.Args.Add(arg);
                    }
                }
            });
#pragma warning restore ASPIRECERTIFICATES001

    private static IResourceBuilder<RedisServerResource> AddLocalRedis(
        this IDistributedApplicationBuilder builder, string name, CimInfrastructure infrastructure)
    {
        var redis = new RedisServerResource(name, builder.AppHostDirectory);
        var healthCheckKey = $"{name}_check";
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            healthCheckKey, _ => new RedisPingHealthCheck(redis), failureStatus: null, tags: null));

        // Not proxied, like ZooKeeper: clients talk to the server itself, and the port stays the same across restarts.
        return builder.AddResource(redis)
            .WithEndpoint(name: RedisServerResource.PrimaryEndpointName, scheme: "tcp", isProxied: false)
            .WithArgs(context =>
            {
                context.Args.Add("--port");
                context.Args.Add(redis.PrimaryEndpoint.Property(EndpointProperty.TargetPort));
                context.Args.Add("--bind");
                context.Args.Add(LocalExecutables.LoopbackAddress);
                context.Args.Add("--dir");
                context.Args.Add(infrastructure.GetDataDirectory(name));
                foreach (var arg in PersistenceArgs)
                {
                    context.Args.Add(arg);
                }

                // No RDB snapshots: the append-only file is the one source of truth.
                context.Args.Add("--save");
                context.Args.Add(string.Empty);
            })
            .WithHealthCheck(healthCheckKey);
    }
}
