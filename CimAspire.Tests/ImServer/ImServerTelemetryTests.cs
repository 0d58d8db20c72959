using System.Collections.Concurrent;
using System.Diagnostics;
using CimAspire.ImServer.Telemetry;
using CimAspire.Protocol;
using CimAspire.Tests.Delivery;
using CimAspire.Tests.Infrastructure;
using Google.Protobuf;
using StackExchange.Redis;

namespace CimAspire.Tests.ImServer;

/// <summary>The IM server's ActivitySource and Meter (<c>CimAspire.ImServer</c>), observed as an exporter would.</summary>
public sealed class ImServerTelemetryTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private Task<long> NewUserAsync() => Tokens.NewUserAsync(fixture.Connection);

    [Fact]
    public async Task ASendCarryingATraceparentIsHandledAndDeliveredInTheSendersTrace()
    {
        await using var server = await ImServerInstance.StartAsync(fixture.Redis.ConnectionString);
        long senderId = await NewUserAsync(), recipientId = await NewUserAsync();
        await using var sender = await TestClient.LoginAsync(server, senderId);
        await using var recipient = await TestClient.LoginAsync(server, recipientId);

        // The client's own span for the send, as an instrumented client would put it in the envelope.
        var traceId = ActivityTraceId.CreateRandom();
        var clientSpanId = ActivitySpanId.CreateRandom();
        var spans = new ConcurrentQueue<Activity>();
        var handled = new TaskCompletionSource<Activity>(TaskCreationOptions.RunContinuationsAsynchronously);
        var delivered = new TaskCompletionSource<Activity>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == ImServerTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.TraceId != traceId)
                {
                    return;
                }

                spans.Enqueue(activity);
                if (activity.OperationName == "cim.handle Send")
                {
                    handled.TrySetResult(activity);
                }
                else if (activity.OperationName == "cim.deliver")
                {
                    delivered.TrySetResult(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        var ack = await sender.RequestAsync(new Envelope
        {
            Traceparent = $"00-{traceId}-{clientSpanId}-01",
            Send = new SendRequest { ClientMsgId = "traced", To = new Target { UserId = recipientId }, Body = ByteString.CopyFromUtf8("hello") },
        });
        Assert.Equal(Envelope.BodyOneofCase.SendAck, ack.BodyCase);
        var deliver = await recipient.WaitForAsync(e => e.BodyCase == Envelope.BodyOneofCase.Deliver);

        var handle = await handled.Task.WaitAsync(TestClient.Timeout);
        Assert.Equal(traceId, handle.TraceId);
        Assert.Equal(clientSpanId, handle.ParentSpanId);
        Assert.Equal(ActivityKind.Server, handle.Kind);
        Assert.Equal(senderId, handle.GetTagItem("cim.user_id"));

        // The push to the recipient continues the same trace, below the span that handled the send.
        var push = await delivered.Task.WaitAsync(TestClient.Timeout);
        Assert.Equal(handle.SpanId, push.ParentSpanId);
        Assert.Equal(ack.SendAck.ConversationId, push.GetTagItem("cim.conversation_id"));
        Assert.True(ActivityContext.TryParse(deliver.Traceparent, null, out var deliverContext), $"Bad traceparent '{deliver.Traceparent}'");
        Assert.Equal(traceId, deliverContext.TraceId);
        Assert.Equal(push.SpanId, deliverContext.SpanId);
        Assert.True(ActivityContext.TryParse(ack.Traceparent, null, out var ackContext), $"Bad traceparent '{ack.Traceparent}'");
        Assert.Equal(traceId, ackContext.TraceId);
        Assert.All(spans, span => Assert.Equal(traceId, span.TraceId));
    }

    [Fact]
    public async Task RoutineFramesAreTracedOnlyWithTheClientsContextAndOthersStartATraceOfTheirOwn()
    {
        await using var server = await ImServerInstance.StartAsync(fixture.Redis.ConnectionString);
        await using var client = await TestClient.LoginAsync(server, await NewUserAsync());
        var spans = new ConcurrentQueue<Activity>();
        var tracedPing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sync = new TaskCompletionSource<Activity>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == ImServerTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.GetTagItem("cim.user_id") is not long user || user != client.UserId)
                {
                    return;
                }

                spans.Enqueue(activity);
                if (activity.OperationName == "cim.handle Ping" && activity.ParentSpanId != default)
                {
                    tracedPing.TrySetResult();
                }
                else if (activity.OperationName == "cim.handle Sync")
                {
                    sync.TrySetResult(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        // A heartbeat without trace context: no span, and the pong names none.
        var untraced = await client.RequestAsync(new Envelope { Ping = new Ping() });
        Assert.Equal(string.Empty, untraced.Traceparent);

        // The same with the client's context: a span in the client's trace. Frames of a connection are handled in
        // order, so by the time this span stopped, a span for the first ping would have stopped too.
        var traceId = ActivityTraceId.CreateRandom();
        var clientSpanId = ActivitySpanId.CreateRandom();
        var traced = await client.RequestAsync(new Envelope { Ping = new Ping(), Traceparent = $"00-{traceId}-{clientSpanId}-01" });
        await tracedPing.Task.WaitAsync(TestClient.Timeout);
        var ping = Assert.Single(spans, s => s.OperationName == "cim.handle Ping");
        Assert.Equal(traceId, ping.TraceId);
        Assert.Equal(clientSpanId, ping.ParentSpanId);
        Assert.True(ActivityContext.TryParse(traced.Traceparent, null, out var pongContext));
        Assert.Equal(traceId, pongContext.TraceId);

        // A request that is not routine starts a trace of its own when it carries no context.
        var overview = await client.RequestAsync(new Envelope { Sync = new SyncRequest() });
        var span = await sync.Task.WaitAsync(TestClient.Timeout);
        Assert.Equal(default, span.ParentSpanId);
        Assert.True(ActivityContext.TryParse(overview.Traceparent, null, out var context));
        Assert.Equal(span.TraceId, context.TraceId);
    }

    [Fact]
    public async Task ConnectionsLoginsFramesErrorsAndDeliveryLatencyAreMeasured()
    {
        await using var server = await ImServerInstance.StartAsync(fixture.Redis.ConnectionString);
        using var metrics = new ImServerMeterRecorder(server);
        long aliceId = await NewUserAsync(), bobId = await NewUserAsync();

        await using (var alice = await TestClient.LoginAsync(server, aliceId))
        await using (var bob = await TestClient.LoginAsync(server, bobId))
        {
            Assert.Equal(2, metrics.Sum("cim.im.connections"));
            for (var i = 0; i < 2; i++)
            {
                Assert.Equal(Envelope.BodyOneofCase.Pong, (await alice.RequestAsync(new Envelope { Ping = new Ping() })).BodyCase);
            }

            Assert.Equal(Envelope.BodyOneofCase.SendAck, (await alice.SendMessageAsync(new Target { UserId = bobId }, "m1", "hi bob")).BodyCase);
            var delivered = await bob.WaitForDeliverAsync(m => m.ClientMsgId == "m1");
            // Acknowledged at once, so the server never redelivers it (which would count another deliver frame).
            await bob.SendAsync(new Envelope { DeliverAck = new DeliverAck { ConversationId = delivered.ConversationId, Seq = delivered.Seq } });
            var unknown = await alice.SendMessageAsync(new Target { UserId = long.MaxValue - 7 }, "m2", "anyone?");
            Assert.Equal(ErrorCode.UnknownRecipient, unknown.Error.Code);

            await using var forger = await TestClient.ConnectAsync(server.Port);
            await forger.SendAsync(new Envelope { Login = new LoginRequest { Token = "v1.not.signed" } });
            await forger.Closed.Task.WaitAsync(TestClient.Timeout);
        }

        // Closed connections are counted down once their sessions are released.
        await CrossServerDeliveryTests.Until(() => metrics.Sum("cim.im.connections") == 0);
        Assert.Equal(3, metrics.Values("cim.im.connections").Count(v => v > 0));

        Assert.Equal(2, metrics.Sum("cim.im.logins", "ok"));
        Assert.Equal(1, metrics.Sum("cim.im.logins", "invalid_token"));

        Assert.Equal(3, metrics.Sum("cim.im.frames.in", "login"));
        Assert.Equal(2, metrics.Sum("cim.im.frames.in", "ping"));
        Assert.Equal(2, metrics.Sum("cim.im.frames.in", "send"));
        Assert.Equal(1, metrics.Sum("cim.im.frames.in", "deliverack"));
        Assert.Equal(2, metrics.Sum("cim.im.frames.out", "loginresult"));
        Assert.Equal(2, metrics.Sum("cim.im.frames.out", "pong"));
        Assert.Equal(1, metrics.Sum("cim.im.frames.out", "sendack"));
        Assert.Equal(1, metrics.Sum("cim.im.frames.out", "deliver"));
        Assert.Equal(2, metrics.Sum("cim.im.frames.out", "error"));

        Assert.Equal(1, metrics.Sum("cim.im.errors", nameof(ErrorCode.InvalidToken)));
        Assert.Equal(1, metrics.Sum("cim.im.errors", nameof(ErrorCode.UnknownRecipient)));
        Assert.Equal(2, metrics.Sum("cim.im.errors"));
        Assert.Equal(1, metrics.Sum("cim.im.messages.stored"));

        var latency = Assert.Single(metrics.Values("cim.im.deliver.latency"));
        Assert.InRange(latency, 0, TestClient.Timeout.TotalMilliseconds);
    }
}
