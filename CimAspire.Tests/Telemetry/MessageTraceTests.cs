using System.Collections.Immutable;
using Aspire.Hosting.Testing;
using CimAspire.Protocol;
using CimAspire.Tests.Cluster;
using CimAspire.Tests.Web.Browser;
using static Microsoft.Playwright.Assertions;
using SpanKind = CimAspire.Tests.Telemetry.Otlp.Span.Types.SpanKind;

namespace CimAspire.Tests.Telemetry;

/// <summary>
/// A message sent in the browser is one trace in the exported telemetry: the web client, the IM server that stores it,
/// Redis, and the other IM server that delivers it, all under the span of the user's send.
/// </summary>
[Collection("cluster")]
public sealed class MessageTraceTests(ClusterFixture cluster, ChromiumFixture chromium, ITestOutputHelper output)
    : IClassFixture<ChromiumFixture>
{
    private const string WebClient = "web-client";
    private const string ImServer = "im-server";
    private const string RedisScope = "OpenTelemetry.Instrumentation.StackExchangeRedis";
    private const int MaxSignUps = 8;

    // Longer than Playwright's own timeouts, so a failure reports what Playwright waited for.
    private static readonly TimeSpan Timeout = Chromium.Timeout + TimeSpan.FromSeconds(10);

    // Redis spans are made from profiled commands when the instrumentation drains them (every 10 s by default).
    private static readonly TimeSpan TraceTimeout = TimeSpan.FromSeconds(60);

    private string BaseUrl => cluster.App.GetEndpoint("web-client", "http").ToString();

    [Fact]
    public async Task A_message_sent_in_the_browser_to_a_user_on_the_other_im_server_is_one_trace_across_web_client_both_servers_and_redis()
    {
        var ann = await ChatPageModel.SignUpAsync(chromium.Browser, BaseUrl, ChatPageModel.NewUserName("ann"));
        var annServer = await ann.ServerIdAsync();
        var ben = await SignUpOnAnotherServerAsync(annServer);
        var benServer = await ben.ServerIdAsync();
        output.WriteLine($"{ann.UserName} is on {annServer}, {ben.UserName} on {benServer}");
        var conversationId = ConversationIds.ForUsers(await ann.UserIdAsync(), await ben.UserIdAsync());

        await ben.OpenChatWithAsync(ann.UserName);
        await ann.OpenChatWithAsync(ben.UserName);
        string[] texts = [$"traced {Guid.NewGuid():N}", $"traced again {Guid.NewGuid():N}"];
        foreach (var text in texts)
        {
            await ann.SendAsync(text);
            await Expect(ben.Message(text)).ToBeVisibleAsync().WaitAsync(Timeout);
        }

        var traces = await cluster.Telemetry.WaitForAsync(spans => CompleteTraces(spans, conversationId, texts.Length), TraceTimeout);

        foreach (var trace in traces)
        {
            output.WriteLine($"trace {trace[0].TraceId}:{Environment.NewLine}  {string.Join(Environment.NewLine + "  ", trace)}");
        }

        // One message, one trace: the two sends do not share a trace, and each trace has one root, the user's send.
        Assert.Equal(texts.Length, traces.Select(t => t[0].TraceId).Distinct().Count());
        foreach (var trace in traces)
        {
            var root = Assert.Single(trace, s => s.ParentSpanId.Length == 0);
            Assert.Equal((WebClient, "chat send"), (root.ServiceName, root.Name));
            var byId = trace.ToDictionary(s => s.SpanId);
            Assert.All(trace.Where(s => s != root), s => Assert.True(byId.ContainsKey(s.ParentSpanId), $"the parent of {s} is not in the trace"));

            var send = Assert.Single(trace, s => s.Name == "cim send");
            Assert.Equal((WebClient, SpanKind.Producer, root.SpanId), (send.ServiceName, send.Kind, send.ParentSpanId));

            // The sender's server handles the Send under the SDK's span, and stores it in Redis under its own span.
            var handle = Assert.Single(trace, s => s.Name == "cim.handle Send");
            Assert.Equal((ImServer, SpanKind.Server, send.SpanId), (handle.ServiceName, handle.Kind, handle.ParentSpanId));
            var redis = trace.Where(s => s.Scope == RedisScope).ToList();
            Assert.NotEmpty(redis);
            Assert.All(redis, s => Assert.Equal((ImServer, handle.ServiceInstanceId), (s.ServiceName, s.ServiceInstanceId)));
            Assert.Contains(redis, s => s.ParentSpanId == handle.SpanId);

            // The recipient's server, the other replica, delivers it, continuing the trace stored with the message.
            var deliver = Assert.Single(trace, s => s.Name == "cim.deliver");
            Assert.Equal((ImServer, handle.SpanId), (deliver.ServiceName, deliver.ParentSpanId));
            Assert.NotEqual(handle.ServiceInstanceId, deliver.ServiceInstanceId);

            // And the recipient's page receives it in the same trace.
            Assert.Contains(trace, s => s.ServiceName == WebClient && s.Name == "cim receive");
        }

        await ann.Page.Context.CloseAsync().WaitAsync(Timeout);
        await ben.Page.Context.CloseAsync().WaitAsync(Timeout);
    }

    /// <summary>
    /// The traces of <paramref name="count"/> sends into the conversation (found by the SDK's send span, oldest first),
    /// once each holds every part the test checks; null while any part is still missing.
    /// </summary>
    private static List<ImmutableList<ReceivedSpan>>? CompleteTraces(IReadOnlyList<ReceivedSpan> spans, string conversationId, int count)
    {
        var sends = spans
            .Where(s => s.ServiceName == WebClient && s.Name == "cim send" && s.Attributes.GetValueOrDefault("cim.conversation_id") == conversationId)
            .OrderBy(s => long.Parse(s.Attributes.GetValueOrDefault("cim.seq", "0"), System.Globalization.CultureInfo.InvariantCulture))
            .ToList();
        if (sends.Count < count)
        {
            return null;
        }

        var traces = sends.Select(send => spans.Where(s => s.TraceId == send.TraceId).ToImmutableList()).ToList();
        return traces.All(IsComplete) ? traces : null;

        static bool IsComplete(ImmutableList<ReceivedSpan> trace) =>
            trace.Any(s => s.Name == "chat send")
            && trace.Any(s => s.Name == "cim.handle Send")
            && trace.Any(s => s.Name == "cim.deliver")
            && trace.Any(s => s.Name == "cim receive")
            && trace.Any(s => s.Scope == RedisScope);
    }

    /// <summary>Signs up people until one is held by another IM server than <paramref name="serverId"/>.</summary>
    private async Task<ChatPageModel> SignUpOnAnotherServerAsync(string serverId)
    {
        for (var attempt = 1; attempt <= MaxSignUps; attempt++)
        {
            var person = await ChatPageModel.SignUpAsync(chromium.Browser, BaseUrl, ChatPageModel.NewUserName("ben"));
            if (await person.ServerIdAsync() is { Length: > 0 } other && other != serverId)
            {
                return person;
            }

            await person.Page.Context.CloseAsync().WaitAsync(Timeout);
        }

        throw new InvalidOperationException($"{MaxSignUps} sign-ups all landed on {serverId}; the cluster runs {ClusterFixture.ImServerReplicas} IM servers.");
    }
}
