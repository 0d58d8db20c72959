using System.Collections.Immutable;
using System.IO.Compression;
using CimAspire.Tests.Telemetry.Otlp;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CimAspire.Tests.Telemetry;

/// <summary>One span as an OTLP exporter sent it, flattened with the resource that produced it.</summary>
/// <param name="ParentSpanId">Empty for a root span.</param>
/// <param name="ServiceName">The resource attribute <c>service.name</c> (Aspire sets it to the resource name).</param>
/// <param name="ServiceInstanceId">The resource attribute <c>service.instance.id</c> (Aspire sets it per replica).</param>
/// <param name="Scope">The instrumentation scope: the ActivitySource's name.</param>
public sealed record ReceivedSpan(
    string TraceId,
    string SpanId,
    string ParentSpanId,
    string Name,
    Span.Types.SpanKind Kind,
    string ServiceName,
    string ServiceInstanceId,
    string Scope,
    ImmutableDictionary<string, string> Attributes)
{
    public override string ToString() =>
        $"{ServiceInstanceId} [{Scope}] '{Name}' {Kind} span {SpanId} parent {(ParentSpanId.Length == 0 ? "-" : ParentSpanId)} trace {TraceId}";
}

/// <summary>
/// A minimal OpenTelemetry collector for tests: OTLP/HTTP with protobuf on a free loopback port. It keeps every span
/// posted to <c>/v1/traces</c>, and accepts and drops logs and metrics so exporters that send all signals stay quiet.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private const string ProtobufContentType = "application/x-protobuf";

    private readonly WebApplication _app;
    private readonly Lock _gate = new();
    private readonly List<TaskCompletionSource> _waiters = [];
    private ImmutableList<ReceivedSpan> _spans = [];
    private int _rejected;

    private OtlpReceiver(WebApplication app) => _app = app;

    /// <summary>The base address exporters are given (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>); they append <c>/v1/traces</c>.</summary>
    public Uri Endpoint { get; private set; } = default!;

    /// <summary>Every span received so far, in arrival order.</summary>
    public ImmutableList<ReceivedSpan> Spans
    {
        get
        {
            lock (_gate)
            {
                return _spans;
            }
        }
    }

    /// <summary>Number of export requests that could not be read (not protobuf, or not OTLP).</summary>
    public int RejectedRequests => Volatile.Read(ref _rejected);

    public static async Task<OtlpReceiver> StartAsync(CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var receiver = new OtlpReceiver(builder.Build());
        receiver._app.MapPost("/v1/traces", receiver.ReceiveTracesAsync);
        receiver._app.MapPost("/v1/logs", DiscardAsync);
        receiver._app.MapPost("/v1/metrics", DiscardAsync);
        await receiver._app.StartAsync(cancellationToken);
        // Kestrel replaces port 0 with the port it bound.
        receiver.Endpoint = new Uri(receiver._app.Urls.Single());
        return receiver;
    }

    /// <summary>
    /// Waits until <paramref name="select"/> finds what it looks for in the spans received so far (re-checked on every
    /// export), and returns it. Throws a <see cref="TimeoutException"/> describing what did arrive.
    /// </summary>
    public async Task<T> WaitForAsync<T>(Func<IReadOnlyList<ReceivedSpan>, T?> select, TimeSpan timeout, CancellationToken cancellationToken = default)
        where T : class
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        while (true)
        {
            var received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            ImmutableList<ReceivedSpan> spans;
            lock (_gate)
            {
                spans = _spans;
                _waiters.Add(received);
            }

            if (select(spans) is { } found)
            {
                return found;
            }

            try
            {
                await received.Task.WaitAsync(limit.Token);
            }
            catch (OperationCanceledException) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException(
                    $"The expected spans did not arrive within {timeout}; {spans.Count} spans arrived:{Environment.NewLine}"
                    + string.Join(Environment.NewLine, spans));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await _app.DisposeAsync();
    }

    private async Task<IResult> ReceiveTracesAsync(HttpRequest request)
    {
        if (request.ContentType?.StartsWith(ProtobufContentType, StringComparison.OrdinalIgnoreCase) != true)
        {
            Interlocked.Increment(ref _rejected);
            return TypedResults.StatusCode(StatusCodes.Status415UnsupportedMediaType);
        }

        ExportTraceServiceRequest export;
        try
        {
            export = ExportTraceServiceRequest.Parser.ParseFrom(await ReadBodyAsync(request));
        }
        catch (InvalidProtocolBufferException)
        {
            Interlocked.Increment(ref _rejected);
            return TypedResults.BadRequest();
        }

        var spans = Flatten(export).ToList();
        TaskCompletionSource[] waiters;
        lock (_gate)
        {
            _spans = _spans.AddRange(spans);
            waiters = [.. _waiters];
            _waiters.Clear();
        }

        foreach (var waiter in waiters)
        {
            waiter.TrySetResult();
        }

        return TypedResults.Bytes(new ExportTraceServiceResponse().ToByteArray(), ProtobufContentType);
    }

    private static async Task<IResult> DiscardAsync(HttpRequest request)
    {
        await request.Body.CopyToAsync(Stream.Null, request.HttpContext.RequestAborted);
        // An empty message is a valid Export*ServiceResponse of every signal: all accepted.
        return TypedResults.Bytes([], ProtobufContentType);
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request)
    {
        var body = string.Equals(request.Headers.ContentEncoding, "gzip", StringComparison.OrdinalIgnoreCase)
            ? new GZipStream(request.Body, CompressionMode.Decompress)
            : request.Body;
        await using (body)
        {
            using var buffer = new MemoryStream();
            await body.CopyToAsync(buffer, request.HttpContext.RequestAborted);
            return buffer.ToArray();
        }
    }

    private static IEnumerable<ReceivedSpan> Flatten(ExportTraceServiceRequest export)
    {
        foreach (var resourceSpans in export.ResourceSpans)
        {
            var resource = ToDictionary(resourceSpans.Resource?.Attributes ?? []);
            var serviceName = resource.GetValueOrDefault("service.name", "");
            var instance = resource.GetValueOrDefault("service.instance.id", "");
            foreach (var scopeSpans in resourceSpans.ScopeSpans)
            {
                var scope = scopeSpans.Scope?.Name ?? "";
                foreach (var span in scopeSpans.Spans)
                {
                    yield return new ReceivedSpan(
                        Convert.ToHexStringLower(span.TraceId.Span),
                        Convert.ToHexStringLower(span.SpanId.Span),
                        Convert.ToHexStringLower(span.ParentSpanId.Span),
                        span.Name,
                        span.Kind,
                        serviceName,
                        instance,
                        scope,
                        ToDictionary(span.Attributes));
                }
            }
        }
    }

    private static ImmutableDictionary<string, string> ToDictionary(IEnumerable<KeyValue> attributes) =>
        attributes
            .GroupBy(a => a.Key, StringComparer.Ordinal)
            .ToImmutableDictionary(g => g.Key, g => Describe(g.Last().Value), StringComparer.Ordinal);

    private static string Describe(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.BytesValue => Convert.ToHexStringLower(value.BytesValue.Span),
        _ => "",
    };
}
