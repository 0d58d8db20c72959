using System.Diagnostics;
using CimAspire.Delivery.Dispatch;
using CimAspire.ImServer.Sessions;
using CimAspire.ImServer.Telemetry;
using CimAspire.Protocol;
using Microsoft.Extensions.Options;

namespace CimAspire.ImServer.Delivery;

/// <summary>Hands deliveries for this server's users to their connections (from the dispatcher or the server inbox).</summary>
public sealed partial class LocalDelivery(
    ServerIdentity identity,
    SessionRegistry sessions,
    ImServerTelemetry telemetry,
    TimeProvider time,
    IOptions<ImServerOptions> options,
    ILogger<LocalDelivery> logger) : ILocalDelivery
{
    private readonly bool _oneSessionPerUser = options.Value.DuplicateLogin != DuplicateLoginPolicy.AllowMultiple;

    public string ServerId => identity.Id;

    public bool HoldsExclusively(long userId) => ExclusiveConnectionsOf(userId).Count > 0;

    /// <summary>
    /// The user's connections when this server is the only one that can hold the user (one session per user), so a
    /// notice needs no route lookup; empty otherwise.
    /// </summary>
    public IReadOnlyList<ClientConnection> ExclusiveConnectionsOf(long userId) => _oneSessionPerUser ? sessions.ConnectionsOf(userId) : [];

    /// <summary>Raised when a drain request (Kick DRAINING to all users) arrived for this server.</summary>
    public event Action? DrainRequested;

    public void Deliver(ServerDelivery delivery)
    {
        if (delivery.PayloadCase == ServerDelivery.PayloadOneofCase.Kick && delivery.AllUsers
            && delivery.Kick.Reason == Kick.Types.Reason.Draining)
        {
            LogDrainRequested(identity.Id);
            DrainRequested?.Invoke();
            return;
        }

        var connections = Recipients(delivery);
        if (connections.Count == 0)
        {
            return;
        }

        switch (delivery.PayloadCase)
        {
            case ServerDelivery.PayloadOneofCase.Message:
                DeliverMessage(delivery.Message, connections);
                break;
            case ServerDelivery.PayloadOneofCase.Notice:
                var notice = new Envelope { Notice = delivery.Notice };
                connections.ForEach(c => c.Send(notice));
                break;
            case ServerDelivery.PayloadOneofCase.Receipt:
                var receipt = new Envelope { Receipt = delivery.Receipt };
                connections.ForEach(c => c.Send(receipt));
                break;
            case ServerDelivery.PayloadOneofCase.Kick:
                connections.ForEach(c => c.Kick(delivery.Kick));
                break;
        }
    }

    private void DeliverMessage(ChatMessage message, List<ClientConnection> connections)
    {
        // Continues the sender's trace, so a message is one trace across servers.
        using var activity = ImServerTelemetry.StartActivity("cim.deliver", ActivityKind.Producer, message.Traceparent, null);
        activity?.SetTag("cim.conversation_id", message.ConversationId);
        activity?.SetTag("cim.seq", message.Seq);
        activity?.SetTag("cim.recipients", connections.Count);
        var traceparent = activity?.Id ?? message.Traceparent;
        var latency = time.GetUtcNow().ToUnixTimeMilliseconds() - message.ServerTimeMs;
        foreach (var connection in connections)
        {
            connection.Push(message, traceparent);
            telemetry.Delivered(latency);
        }
    }

    private List<ClientConnection> Recipients(ServerDelivery delivery)
    {
        var connections = new List<ClientConnection>();
        if (delivery.AllUsers)
        {
            var excluded = delivery.ExcludeUserIds.ToHashSet();
            foreach (var userId in sessions.UserIds)
            {
                if (!excluded.Contains(userId))
                {
                    connections.AddRange(sessions.ConnectionsOf(userId));
                }
            }
        }
        else
        {
            foreach (var userId in delivery.RecipientIds)
            {
                connections.AddRange(sessions.ConnectionsOf(userId));
            }
        }

        return connections;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server {ServerId} was asked to drain")]
    private partial void LogDrainRequested(string serverId);
}
