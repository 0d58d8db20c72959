using System.Diagnostics;
using CimAspire.Protocol;

namespace CimAspire.WebClient.Chat;

/// <summary>The web client's tracing source (<c>CimAspire.WebClient</c>, registered by service defaults as <c>CimAspire.*</c>).</summary>
public static class WebClientTelemetry
{
    public const string ActivitySourceName = "CimAspire.WebClient";

    private static readonly ActivitySource Source = new(ActivitySourceName);

    /// <summary>
    /// Starts the span of one message sent from the page, as the root of a trace of its own. In Blazor Server the
    /// ambient activity of a UI event can be the circuit's WebSocket request, which lasts as long as the tab: as a
    /// parent it would put every message of the tab into one endless trace. The caller must clear
    /// <see cref="Activity.Current"/> first (in its own async method, so the change does not leak); the ambient
    /// activity is kept as a link.
    /// </summary>
    public static Activity? StartSend(Target to, string clientMsgId, ActivityContext ambient)
    {
        ActivityLink[]? links = ambient == default ? null : [new ActivityLink(ambient)];
        var activity = Source.StartActivity("chat send", ActivityKind.Internal, default(ActivityContext), links: links);
        activity?.SetTag("cim.client_msg_id", clientMsgId);
        activity?.SetTag("cim.target", to.KindCase == Target.KindOneofCase.GroupId ? $"group:{to.GroupId}" : $"user:{to.UserId}");
        return activity;
    }
}
