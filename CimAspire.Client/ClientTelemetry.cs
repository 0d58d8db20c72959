using System.Diagnostics;

namespace CimAspire.Client;

/// <summary>The SDK's tracing source; register it with OpenTelemetry (<c>AddSource(ClientTelemetry.ActivitySourceName)</c>).</summary>
public static class ClientTelemetry
{
    public const string ActivitySourceName = "CimAspire.Client";

    internal static readonly ActivitySource Source = new(ActivitySourceName);
}
