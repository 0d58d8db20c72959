using System.Diagnostics;
using System.Diagnostics.Metrics;
using CimAspire.Protocol;

namespace CimAspire.ImServer.Telemetry;

/// <summary>The IM server's ActivitySource and Meter (both named <c>CimAspire.ImServer</c>).</summary>
public sealed class ImServerTelemetry
{
    public const string Name = "CimAspire.ImServer";

    public static readonly ActivitySource ActivitySource = new(Name);

    private readonly UpDownCounter<long> _connections;
    private readonly Counter<long> _logins;
    private readonly Counter<long> _framesIn;
    private readonly Counter<long> _framesOut;
    private readonly Counter<long> _errors;
    private readonly Counter<long> _stored;
    private readonly Histogram<double> _deliverLatency;

    public ImServerTelemetry(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Name);
        _connections = meter.CreateUpDownCounter<long>("cim.im.connections", "{connection}", "Open client connections");
        _logins = meter.CreateCounter<long>("cim.im.logins", "{login}", "Login attempts by result");
        _framesIn = meter.CreateCounter<long>("cim.im.frames.in", "{frame}", "Frames received by type");
        _framesOut = meter.CreateCounter<long>("cim.im.frames.out", "{frame}", "Frames sent by type");
        _errors = meter.CreateCounter<long>("cim.im.errors", "{error}", "Error frames sent, by code");
        _stored = meter.CreateCounter<long>("cim.im.messages.stored", "{message}", "Messages stored (new, not retries)");
        _deliverLatency = meter.CreateHistogram<double>("cim.im.deliver.latency", "ms", "From the server accepting a message to pushing it to a recipient");
    }

    public void ConnectionOpened() => _connections.Add(1);

    public void ConnectionClosed() => _connections.Add(-1);

    public void Login(string result) => _logins.Add(1, new KeyValuePair<string, object?>("result", result));

    public void FrameIn(Envelope.BodyOneofCase type) => _framesIn.Add(1, new KeyValuePair<string, object?>("type", TypeName(type)));

    public void FrameOut(Envelope.BodyOneofCase type) => _framesOut.Add(1, new KeyValuePair<string, object?>("type", TypeName(type)));

    public void Error(ErrorCode code) => _errors.Add(1, new KeyValuePair<string, object?>("code", code.ToString()));

    public void Stored() => _stored.Add(1);

    public void Delivered(double latencyMs) => _deliverLatency.Record(Math.Max(0, latencyMs));

    /// <summary>Starts a span for a frame, continuing the trace the sender put in it.</summary>
    public static Activity? StartActivity(string name, ActivityKind kind, string? traceparent, string? tracestate)
    {
        if (!string.IsNullOrEmpty(traceparent) && ActivityContext.TryParse(traceparent, tracestate, out var parent))
        {
            return ActivitySource.StartActivity(name, kind, parent);
        }

        return ActivitySource.StartActivity(name, kind);
    }

    // Tag values and span names computed once, indexed by the oneof case: frames are counted on the hot path.
    private static readonly Envelope.BodyOneofCase[] Cases = Enum.GetValues<Envelope.BodyOneofCase>();

    private static readonly string[] TypeNames = Table(t => t.ToString().ToLowerInvariant());

    private static readonly string[] HandleNames = Table(t => "cim.handle " + t);

    /// <summary>The span name of handling one frame type ("cim.handle Send"), without building a string per frame.</summary>
    public static string HandleActivityName(Envelope.BodyOneofCase type) => Lookup(HandleNames, type) ?? "cim.handle";

    private static string TypeName(Envelope.BodyOneofCase type) => Lookup(TypeNames, type) ?? "unknown";

    private static string[] Table(Func<Envelope.BodyOneofCase, string> name)
    {
        var table = new string[Cases.Max(c => (int)c) + 1];
        foreach (var type in Cases)
        {
            table[(int)type] = name(type);
        }

        return table;
    }

    private static string? Lookup(string[] table, Envelope.BodyOneofCase type) => (uint)type < (uint)table.Length ? table[(int)type] : null;
}
