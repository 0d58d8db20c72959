using CimAspire.Delivery;
using CimAspire.Protocol;
using CimAspire.Route.Accounts;
using CimAspire.Route.Apis;
using CimAspire.Route.Auth;
using CimAspire.Route.Presence;
using CimAspire.Route.Problems;
using CimAspire.Route.Selection;
using CimAspire.Route.Sessions;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace CimAspire.Route.Extensions;

public static class Extensions
{
    public static IHostApplicationBuilder AddApplicationServices(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        builder.AddRedisClient("redis");
        builder.AddCimDelivery();
        builder.AddZooKeeperClient("zookeeper");
        builder.AddServerDirectory();

        services.AddOptions<CimSecretsOptions>().BindConfiguration(CimSecretsOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<RouteApiOptions>().BindConfiguration(RouteApiOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new AccessTokenCodec(sp.GetRequiredService<IOptions<CimSecretsOptions>>().Value.TokenKey));

        services.AddSingleton<AccountStore>();
        services.AddSingleton<SessionService>();
        services.AddSingleton<ServerProbe>();
        services.AddSingleton<ServerPicker>();
        services.AddSingleton<IServerLoadSource, ReportedServerLoad>();
        services.AddSingleton<PresenceReader>();
        services.AddHostedService<ServerDepartureWatcher>();
        services.AddSingleton<IServerSelectionStrategy>(sp => sp.GetRequiredService<IOptions<RouteApiOptions>>().Value.Strategy switch
        {
            ServerSelectionStrategy.RoundRobin => new RoundRobinStrategy(),
            ServerSelectionStrategy.Random => new RandomStrategy(),
            ServerSelectionStrategy.LeastConnections => new LeastConnectionsStrategy(sp.GetRequiredService<IServerLoadSource>()),
            _ => ActivatorUtilities.CreateInstance<ConsistentHashStrategy>(sp),
        });

        services.AddAuthentication(CimBearerHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, CimBearerHandler>(CimBearerHandler.SchemeName, null)
            .AddScheme<AuthenticationSchemeOptions, AdminKeyHandler>(AdminKeyHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(AdminKeyHandler.PolicyName, policy => policy
                .AddAuthenticationSchemes(AdminKeyHandler.SchemeName)
                .RequireAuthenticatedUser());
        services.AddRouteRateLimiting();

        // Kestrel queues 512 connects by default; a reconnect storm opens thousands at once, and a connect the kernel
        // drops is retried only after 1, 3, 7 s. The kernel caps it at net.core.somaxconn.
        services.Configure<SocketTransportOptions>(options => options.Backlog = 8192);
        services.AddProblemDetails();
        services.AddExceptionHandler<ApiExceptionHandler>();
        // Unreadable bodies throw, so the exception handler can answer with a problem that says what was wrong.
        services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        services.Configure<JsonOptions>(options => options.SerializerOptions.AllowTrailingCommas = false);
        services.AddOpenApi(options => options.AddCimSecurity());
        return builder;
    }

    public static WebApplication MapRouteApi(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();

        if (app.Environment.IsDevelopment())
        {
            app.MapOpenApi();
        }

        app.MapDefaultEndpoints();
        app.MapAccountsApi();
        app.MapSessionsApi();
        app.MapPresenceApi();
        app.MapGroupsApi();
        app.MapMessagesApi();
        app.MapAdminApi();
        return app;
    }
}
