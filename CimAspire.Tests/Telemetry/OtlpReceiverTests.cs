using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace CimAspire.Tests.Telemetry;

/// <summary>The test collector reads what the real OpenTelemetry OTLP exporter sends, so the cluster's trace checks can trust it.</summary>
public sealed class OtlpReceiverTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Spans_exported_over_otlp_http_protobuf_arrive_with_their_trace_parent_resource_and_attributes()
    {
        await using var receiver = await OtlpReceiver.StartAsync().WaitAsync(Timeout);
        var sourceName = $"CimAspire.Tests.Otlp.{Guid.NewGuid():N}";
        using var source = new ActivitySource(sourceName);
        string traceId, parentId, childId;
        using (var provider = Sdk.CreateTracerProviderBuilder()
            .AddSource(sourceName)
            .ConfigureResource(resource => resource.AddService("unit-service", serviceInstanceId: "unit-service-1"))
            .AddOtlpExporter(otlp =>
            {
                otlp.Endpoint = new Uri(receiver.Endpoint, "v1/traces");
                otlp.Protocol = OtlpExportProtocol.HttpProtobuf;
                otlp.ExportProcessorType = ExportProcessorType.Simple;
            })
            .Build())
        {
            using (var parent = source.StartActivity("parent", ActivityKind.Producer, default(ActivityContext))!)
            {
                parentId = parent.SpanId.ToHexString();
                traceId = parent.TraceId.ToHexString();
                using var child = source.StartActivity("child", ActivityKind.Client)!;
                child.SetTag("cim.seq", 42L);
                child.SetTag("cim.conversation_id", "u1_2");
                childId = child.SpanId.ToHexString();
            }

            Assert.True(provider.ForceFlush(10_000));
        }

        var spans = await receiver.WaitForAsync(s => s.Count >= 2 ? s : null, Timeout);

        var parentSpan = Assert.Single(spans, s => s.Name == "parent");
        var childSpan = Assert.Single(spans, s => s.Name == "child");
        Assert.Equal((traceId, parentId, ""), (parentSpan.TraceId, parentSpan.SpanId, parentSpan.ParentSpanId));
        Assert.Equal((traceId, childId, parentId), (childSpan.TraceId, childSpan.SpanId, childSpan.ParentSpanId));
        Assert.Equal(Otlp.Span.Types.SpanKind.Producer, parentSpan.Kind);
        Assert.Equal(Otlp.Span.Types.SpanKind.Client, childSpan.Kind);
        Assert.All(spans, s => Assert.Equal(("unit-service", "unit-service-1", sourceName), (s.ServiceName, s.ServiceInstanceId, s.Scope)));
        Assert.Equal("42", childSpan.Attributes["cim.seq"]);
        Assert.Equal("u1_2", childSpan.Attributes["cim.conversation_id"]);
        Assert.Equal(0, receiver.RejectedRequests);
    }

    [Fact]
    public async Task A_request_that_is_not_otlp_protobuf_is_refused_and_keeps_nothing()
    {
        await using var receiver = await OtlpReceiver.StartAsync().WaitAsync(Timeout);
        using var http = new HttpClient { BaseAddress = receiver.Endpoint };

        using var json = await http.PostAsync("v1/traces", new StringContent("{\"resourceSpans\":[]}", MediaTypeHeaderValue.Parse("application/json"))).WaitAsync(Timeout);
        using var garbage = new ByteArrayContent([0xff, 0xff, 0xff, 0xff]);
        garbage.Headers.ContentType = MediaTypeHeaderValue.Parse("application/x-protobuf");
        using var malformed = await http.PostAsync("v1/traces", garbage).WaitAsync(Timeout);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, json.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.Equal(2, receiver.RejectedRequests);
        Assert.Empty(receiver.Spans);
    }
}
