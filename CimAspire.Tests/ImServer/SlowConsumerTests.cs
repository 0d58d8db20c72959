using System.Net.Sockets;
using CimAspire.Delivery.Routes;
using CimAspire.Protocol;
using CimAspire.Tests.Delivery;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace CimAspire.Tests.ImServer;

/// <summary>A client that stops reading is cut off once its outbound queue passes the limit; the others carry on.</summary>
public sealed class SlowConsumerTests(RedisFixture fixture, ITestOutputHelper output) : IClassFixture<RedisFixture>
{
    private const int MaxPendingOutboundBytes = 64 * 1024;
    private const int BodyBytes = 32 * 1024;

    // Far above what the kernel buffers of both ends (a few MiB on loopback) and the limit can hold together.
    private const int MaxBytesPushed = 48 * 1024 * 1024;

    [Fact]
    public async Task AClientThatNeverReadsIsDisconnectedAndCountedWhileAWellBehavedClientKeepsWorking()
    {
        await using var server = await ImServerInstance.StartAsync(fixture.Redis.ConnectionString, new Dictionary<string, string?>
        {
            ["Cim:ImServer:MaxPendingOutboundBytes"] = MaxPendingOutboundBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Cim:ImServer:SendRatePerSecond"] = "100000",
            ["Cim:ImServer:SendBurst"] = "100000",
        });
        using var metrics = new ImServerMeterRecorder(server);
        long slowId = await Tokens.NewUserAsync(fixture.Connection), senderId = await Tokens.NewUserAsync(fixture.Connection), goodId = await Tokens.NewUserAsync(fixture.Connection);

        // The slow client logs in, reads its login result, and then never reads again.
        using var slow = new TcpClient { NoDelay = true, ReceiveBufferSize = 4096 };
        await slow.ConnectAsync("127.0.0.1", server.Port).WaitAsync(TestClient.Timeout);
        var slowStream = slow.GetStream();
        await slowStream.WriteAsync(TestClient.Frame(new Envelope { RequestId = 1, Login = new LoginRequest { Token = server.IssueToken(slowId) } }))
            .AsTask().WaitAsync(TestClient.Timeout);
        var loginResult = await Task.Run(() => Envelope.Parser.ParseDelimitedFrom(slowStream)).WaitAsync(TestClient.Timeout);
        Assert.Equal(Envelope.BodyOneofCase.LoginResult, loginResult.BodyCase);

        await using var sender = await TestClient.LoginAsync(server, senderId);
        await using var good = await TestClient.LoginAsync(server, goodId);

        // Transient messages (relayed, never stored) to the slow user, until the server lets go of them.
        var body = ByteString.CopyFrom(new byte[BodyBytes]);
        var pushed = 0L;
        var sends = 0;
        while (server.Sessions.ConnectionsOf(slowId).Count > 0)
        {
            Assert.True(pushed < MaxBytesPushed, $"The slow client was still connected after {pushed} bytes were pushed to it.");
            var ack = await sender.RequestAsync(new Envelope
            {
                Send = new SendRequest { ClientMsgId = $"flood-{sends++}", To = new Target { UserId = slowId }, Body = body, Transient = true },
            });
            Assert.Equal(Envelope.BodyOneofCase.SendAck, ack.BodyCase);
            pushed += BodyBytes;
        }

        await CrossServerDeliveryTests.Until(() => metrics.Sum("cim.im.errors", nameof(ErrorCode.SlowConsumer)) == 1);
        Assert.Empty(await server.Services.GetRequiredService<RouteStore>().GetRouteAsync(slowId).WaitAsync(TestClient.Timeout));

        // The slow client's socket ends once it reads what reached its buffers (the rest was dropped, not queued).
        var drained = 0L;
        var buffer = new byte[64 * 1024];
        using (var readTimeout = new CancellationTokenSource(TestClient.Timeout))
        {
            try
            {
                int read;
                while ((read = await slowStream.ReadAsync(buffer, readTimeout.Token)) > 0)
                {
                    drained += read;
                }
            }
            catch (IOException)
            {
                // Reset instead of a clean end: closed just the same.
            }
        }

        output.WriteLine($"Cut off after {sends} sends ({pushed} bytes); the client could still read {drained} bytes");
        Assert.True(drained < pushed, $"The slow client could read all {pushed} bytes pushed; nothing was dropped.");

        // The sender and a bystander on the same server were never affected.
        var ping = await good.RequestAsync(new Envelope { Ping = new Ping() });
        Assert.Equal(Envelope.BodyOneofCase.Pong, ping.BodyCase);
        var stored = await sender.SendMessageAsync(new Target { UserId = goodId }, "after-flood", "still here");
        Assert.Equal(Envelope.BodyOneofCase.SendAck, stored.BodyCase);
        Assert.Equal("after-flood", (await good.WaitForDeliverAsync(m => m.ClientMsgId == "after-flood")).ClientMsgId);
        Assert.False(sender.Closed.Task.IsCompleted || good.Closed.Task.IsCompleted);
        Assert.Equal(0, metrics.Sum("cim.im.errors", nameof(ErrorCode.RateLimited)));
    }
}
