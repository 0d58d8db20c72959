using CimAspire.Delivery.Dispatch;
using CimAspire.Delivery.Groups;
using CimAspire.Delivery.Messages;
using CimAspire.Delivery.Presence;
using CimAspire.Delivery.Routes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace CimAspire.Delivery;

public static class DeliveryServiceCollectionExtensions
{
    /// <summary>
    /// Registers the delivery core (message store, routes, groups, dispatcher, presence notices). Needs an <c>IConnectionMultiplexer</c>,
    /// e.g. from <c>builder.AddRedisClient("redis")</c>. A host that holds client connections also registers an
    /// <see cref="ILocalDelivery"/> so the dispatcher hands it local recipients directly.
    /// </summary>
    public static IHostApplicationBuilder AddCimDelivery(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DeliveryOptions>()
            .BindConfiguration(DeliveryOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<MessageStore>();
        builder.Services.AddSingleton<RouteStore>();
        builder.Services.AddSingleton<GroupStore>();
        builder.Services.AddSingleton<ServerInbox>();
        builder.Services.AddSingleton<MessageDispatcher>();
        // Registered before the host's own services, so it stops after them and still sends their last offline changes.
        builder.Services.AddSingleton<PresenceNotifier>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PresenceNotifier>());
        return builder;
    }
}
