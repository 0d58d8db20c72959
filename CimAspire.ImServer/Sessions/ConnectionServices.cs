using CimAspire.Delivery;
using CimAspire.Delivery.Dispatch;
using CimAspire.Delivery.Groups;
using CimAspire.Delivery.Messages;
using CimAspire.ImServer.Delivery;
using CimAspire.ImServer.Telemetry;
using CimAspire.Protocol;
using Microsoft.Extensions.Options;

namespace CimAspire.ImServer.Sessions;

/// <summary>Everything a connection's protocol handler uses, built once by DI and shared by every connection.</summary>
public sealed class ConnectionServices(
    IOptions<ImServerOptions> options,
    IOptions<DeliveryOptions> deliveryOptions,
    IOptions<TokenOptions> tokenOptions,
    ServerIdentity identity,
    SessionRegistry sessions,
    MessageStore messages,
    GroupStore groups,
    MessageDispatcher dispatcher,
    LocalDelivery localDelivery,
    CursorWriter cursors,
    ImServerTelemetry telemetry,
    TimeProvider time,
    ILogger<ClientConnection> logger)
{
    public ImServerOptions Options { get; } = options.Value;

    public DeliveryOptions DeliveryOptions { get; } = deliveryOptions.Value;

    public AccessTokenCodec Tokens { get; } = new(tokenOptions.Value.TokenKey);

    public ServerIdentity Identity => identity;

    public SessionRegistry Sessions => sessions;

    public MessageStore Messages => messages;

    public GroupStore Groups => groups;

    public MessageDispatcher Dispatcher => dispatcher;

    public CursorWriter Cursors => cursors;

    public LocalDelivery LocalDelivery => localDelivery;

    public ImServerTelemetry Telemetry => telemetry;

    public TimeProvider Time => time;

    public ILogger<ClientConnection> Logger => logger;

    /// <summary>Users known to exist; accounts are never deleted, so a positive answer can be kept.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<long, bool> KnownUsers { get; } = new();
}
