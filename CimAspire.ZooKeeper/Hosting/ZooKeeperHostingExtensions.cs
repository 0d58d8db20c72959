using CimAspire.ZooKeeper;
using CimAspire.ZooKeeper.Hosting;
using CimAspire.ZooKeeper.Registry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>Aspire-style registration of the ZooKeeper client and the two registry roles.</summary>
public static class ZooKeeperHostingExtensions
{
    /// <summary>
    /// Registers one <see cref="ZooKeeperClient"/> singleton from <c>ConnectionStrings:&lt;connectionName&gt;</c>
    /// (<c>host:port[,host:port][/chroot]</c>) and the options in <c>Cim:ZooKeeper</c> (SessionTimeout, MaxFrameBytes,
    /// ReconnectDelay). The client connects in the background; a health check named "zookeeper" reports whether it is
    /// connected, and its traces and metrics (<see cref="ZooKeeperTelemetry.Name"/>) are added to OpenTelemetry.
    /// </summary>
    public static IHostApplicationBuilder AddZooKeeperClient(
        this IHostApplicationBuilder builder, string connectionName, Action<ZooKeeperClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(connectionName);

        builder.Services.AddOptions<ZooKeeperClientOptions>()
            .BindConfiguration(ZooKeeperClientOptions.SectionName)
            .Configure<IConfiguration>((options, configuration) =>
            {
                if (configuration.GetConnectionString(connectionName) is { Length: > 0 } connectionString)
                {
                    options.ConnectionString = connectionString;
                }

                configure?.Invoke(options);
            })
            .Validate(options => IsValidConnectionString(options.ConnectionString),
                $"ConnectionStrings:{connectionName} must be host:port[,host:port...][/chroot].")
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.Services.TryAddSingleton(services => new ZooKeeperClient(
            services.GetRequiredService<IOptions<ZooKeeperClientOptions>>().Value,
            services.GetRequiredService<ILogger<ZooKeeperClient>>()));
        builder.Services.AddHostedService<ZooKeeperClientService>();
        builder.Services.AddHealthChecks().AddCheck<ZooKeeperHealthCheck>("zookeeper");
        builder.Services.AddOpenTelemetry()
            .WithTracing(tracing => tracing.AddSource(ZooKeeperTelemetry.Name))
            .WithMetrics(metrics => metrics.AddMeter(ZooKeeperTelemetry.Name));
        return builder;
    }

    /// <summary>
    /// Registers the <see cref="ServerRegistrar"/> an IM server uses to publish itself under <c>Cim:Registry:Root</c>
    /// (default <c>/cim/servers</c>). Call it after <see cref="AddZooKeeperClient"/> so that, at shutdown, the registrar
    /// deregisters before the client closes its session.
    /// </summary>
    public static IHostApplicationBuilder AddServerRegistrar(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        AddRegistryOptions(builder);
        builder.Services.TryAddSingleton<ServerRegistrar>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ServerRegistrar>());
        return builder;
    }

    /// <summary>
    /// Registers the <see cref="ServerDirectory"/> (also as <see cref="IServerDirectory"/>) the route API uses to see the
    /// live IM servers under <c>Cim:Registry:Root</c>; it starts watching when the host starts.
    /// </summary>
    public static IHostApplicationBuilder AddServerDirectory(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        AddRegistryOptions(builder);
        builder.Services.TryAddSingleton<ServerDirectory>();
        builder.Services.TryAddSingleton<IServerDirectory>(services => services.GetRequiredService<ServerDirectory>());
        builder.Services.AddHostedService(services => services.GetRequiredService<ServerDirectory>());
        return builder;
    }

    private static void AddRegistryOptions(IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ServerRegistryOptions>()
            .BindConfiguration(ServerRegistryOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
    }

    private static bool IsValidConnectionString(string connectionString)
    {
        try
        {
            ZooKeeperConnectionString.Parse(connectionString);
            return true;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            return false;
        }
    }
}
