using CimAspire.Delivery;
using CimAspire.Delivery.Dispatch;
using CimAspire.ImServer;
using CimAspire.ImServer.Delivery;
using CimAspire.ImServer.Registry;
using CimAspire.ImServer.Sessions;
using CimAspire.ImServer.Telemetry;
using CimAspire.ImServer.Transport;

namespace Microsoft.Extensions.Hosting;

public static class Extensions
{
    /// <summary>The IM server: Redis (connection "redis"), the delivery core, sessions and the DotNetty listener.</summary>
    public static IHostApplicationBuilder AddApplicationServices(this IHostApplicationBuilder builder)
    {
        // A span per Redis command shows the store in each message's trace, and costs the IM server about a fifth of its
        // CPU under load (docs/benchmarks.md): Aspire:StackExchange:Redis:DisableTracing=true turns them off.
        builder.AddRedisClient("redis");
        builder.AddCimDelivery();

        var services = builder.Services;
        services.AddOptions<ImServerOptions>()
            .BindConfiguration(ImServerOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddOptions<TokenOptions>()
            .BindConfiguration(TokenOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        services.AddSingleton<ServerIdentity>();
        services.AddSingleton<ImServerTelemetry>();
        services.AddSingleton<SessionRegistry>();
        services.AddSingleton<LocalDelivery>();
        services.AddSingleton<ILocalDelivery>(sp => sp.GetRequiredService<LocalDelivery>());
        services.AddSingleton<ConnectionServices>();
        services.AddSingleton<ImServerPipeline>();

        // Registered before the listener, so at shutdown the listener withdraws and drains before the registry client closes.
        if (!string.IsNullOrEmpty(builder.Configuration.GetConnectionString("zookeeper")))
        {
            builder.AddZooKeeperClient("zookeeper");
            builder.AddServerRegistrar();
            services.AddSingleton<IServerAnnouncer, ZooKeeperAnnouncer>();
        }
        else
        {
            services.AddSingleton<IServerAnnouncer, NoRegistryAnnouncer>();
        }

        // Hosted services stop in reverse order: the listener drains first, then the cursor writer flushes.
        services.AddSingleton<CursorWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<CursorWriter>());
        services.AddHostedService<RedeliveryService>();
        services.AddSingleton<TcpServerHost>();
        services.AddHostedService(sp => sp.GetRequiredService<TcpServerHost>());
        services.AddHostedService<RouteKeeper>();
        return builder;
    }
}
