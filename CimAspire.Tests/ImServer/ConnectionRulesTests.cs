using System.Net.Sockets;
using CimAspire.Delivery.Routes;
using CimAspire.Protocol;
using CimAspire.Tests.Delivery;
using CimAspire.Tests.Infrastructure;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace CimAspire.Tests.ImServer;

/// <summary>One server with short timeouts and small limits, to test login, heartbeat and protection rules.</summary>
public sealed class StrictServerFixture : IAsyncLifetime
{
    public RedisProcess Redis { get; private set; } = null!;

    public ConnectionMultiplexer Connection { get; private set; } = null!;

    public ImServerInstance Server { get; private set; } = null!;

    public Task<long> NewUserAsync() => Tokens.NewUserAsync(Connection);

    public async Task InitializeAsync()
    {
        Redis = await RedisProcess.StartAsync();
        Connection = await ConnectionMultiplexer.ConnectAsync(Redis.ConnectionString).WaitAsync(TimeSpan.FromSeconds(20));
        Server = await ImServerInstance.StartAsync(Redis.ConnectionString, new Dictionary<string, string?>
        {
            ["Cim:ImServer:IdleTimeout"] = "00:00:01.500",
            ["Cim:ImServer:PingInterval"] = "00:00:00.250",
            ["Cim:ImServer:LoginTimeout"] = "00:00:00.700",
            ["Cim:ImServer:MaxFrameBytes"] = "4096",
            ["Cim:ImServer:SendRatePerSecond"] = "0.1",
            ["Cim:ImServer:SendBurst"] = "3",
            ["Cim:ImServer:DuplicateLogin"] = "RejectNew",
            ["Cim:Delivery:MaxBodyBytes"] = "1024",
        });
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        await Connection.DisposeAsync();
        await Redis.DisposeAsync();
    }
}

public sealed class ConnectionRulesTests(StrictServerFixture fixture) : IClassFixture<StrictServerFixture>
{
    private ImServerInstance Server => fixture.Server;

    private static async Task<Error> ExpectFatalAsync(TestClient client, ErrorCode code)
    {
        var error = (await client.WaitForAsync(e => e.BodyCase == Envelope.BodyOneofCase.Error)).Error;
        Assert.Equal(code, error.Code);
        Assert.True(error.Fatal);
        await client.Closed.Task.WaitAsync(TestClient.Timeout);
        return error;
    }

    [Fact]
    public async Task AnythingBeforeLoginIsRefusedAndClosed()
    {
        await using var client = await TestClient.ConnectAsync(Server.Port);
        await client.SendAsync(new Envelope { Ping = new Ping() });
        await ExpectFatalAsync(client, ErrorCode.NotAuthenticated);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("forged")]
    [InlineData("expired")]
    [InlineData("other-server")]
    public async Task BadTokensAreRefused(string kind)
    {
        var user = await fixture.NewUserAsync();
        var token = kind switch
        {
            "garbage" => "not-a-token",
            "forged" => new AccessTokenCodec("another-key-0123456789abcdef").Issue(new AccessTokenClaims(user, "u", Server.Id, "s", DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds())),
            "expired" => Server.IssueToken(user, TimeSpan.FromSeconds(-10)),
            _ => Server.IssueToken(user, serverId: "im-someone-else"),
        };
        await using var client = await TestClient.ConnectAsync(Server.Port);
        await client.SendAsync(new Envelope { Login = new LoginRequest { Token = token } });
        await ExpectFatalAsync(client, kind == "expired" ? ErrorCode.TokenExpired : ErrorCode.InvalidToken);
        Assert.Empty(await Server.Services.GetRequiredService<RouteStore>().GetRouteAsync(user).WaitAsync(TestClient.Timeout));
    }

    [Fact]
    public async Task ASecondLoginOnOneConnectionIsRefused()
    {
        var user = await fixture.NewUserAsync();
        await using var client = await TestClient.LoginAsync(Server, user);
        await client.SendAsync(new Envelope { Login = new LoginRequest { Token = Server.IssueToken(user) } });
        await ExpectFatalAsync(client, ErrorCode.AlreadyLoggedIn);
    }

    [Fact]
    public async Task UnderRejectNewASecondLoginOfTheUserIsRefusedAndTheFirstKeepsWorking()
    {
        var user = await fixture.NewUserAsync();
        await using var first = await TestClient.LoginAsync(Server, user);
        await using var second = await TestClient.ConnectAsync(Server.Port);
        await second.SendAsync(new Envelope { Login = new LoginRequest { Token = Server.IssueToken(user) } });
        await ExpectFatalAsync(second, ErrorCode.DuplicateLoginRejected);
        Assert.Equal(Envelope.BodyOneofCase.Pong, (await first.RequestAsync(new Envelope { Ping = new Ping() })).BodyCase);
    }

    [Fact]
    public async Task ASilentConnectionIsClosedAfterTheIdleTimeoutButAPingingOneStays()
    {
        long silentUser = await fixture.NewUserAsync(), activeUser = await fixture.NewUserAsync();
        await using var silent = await TestClient.LoginAsync(Server, silentUser);
        await using var active = await TestClient.LoginAsync(Server, activeUser);
        using var stop = new CancellationTokenSource();
        var pinger = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await active.RequestAsync(new Envelope { Ping = new Ping() });
                await Task.Delay(200);
            }
        });

        await ExpectFatalAsync(silent, ErrorCode.IdleTimeout);
        Assert.False(active.Closed.Task.IsCompleted);
        await stop.CancelAsync();
        await pinger.WaitAsync(TestClient.Timeout);
        await CrossServerDeliveryTests.Until(() => Server.Sessions.ConnectionsOf(silentUser).Count == 0);
        Assert.Empty(await Server.Services.GetRequiredService<RouteStore>().GetRouteAsync(silentUser).WaitAsync(TestClient.Timeout));
    }

    [Fact]
    public async Task AConnectionThatNeverLogsInIsClosed()
    {
        await using var client = await TestClient.ConnectAsync(Server.Port);
        await ExpectFatalAsync(client, ErrorCode.NotAuthenticated);
    }

    [Fact]
    public async Task AnOversizeFrameGetsFrameTooLargeAndIsClosed()
    {
        var user = await fixture.NewUserAsync();
        await using var client = await TestClient.LoginAsync(Server, user);
        var envelope = new Envelope { Send = new SendRequest { ClientMsgId = "big", To = new Target { UserId = user }, Body = ByteString.CopyFrom(new byte[5000]) } };
        await client.SendAsync(envelope);
        await ExpectFatalAsync(client, ErrorCode.FrameTooLarge);
    }

    [Fact]
    public async Task SendsAboveTheRateLimitAreRefusedWithoutClosing()
    {
        var user = await fixture.NewUserAsync();
        await using var client = await TestClient.LoginAsync(Server, user);
        var replies = new List<Envelope>();
        for (var i = 0; i < 5; i++)
        {
            replies.Add(await client.SendMessageAsync(new Target { UserId = user }, $"r{i}", "x"));
        }

        Assert.Equal(3, replies.Count(r => r.BodyCase == Envelope.BodyOneofCase.SendAck));
        Assert.All(replies.Skip(3), r => Assert.Equal((ErrorCode.RateLimited, false), (r.Error.Code, r.Error.Fatal)));
        var tooBig = await client.RequestAsync(new Envelope { Send = new SendRequest { ClientMsgId = "p", To = new Target { UserId = user }, Body = ByteString.CopyFrom(new byte[2000]) } });
        Assert.Equal((ErrorCode.PayloadTooLarge, false), (tooBig.Error.Code, tooBig.Error.Fatal));
    }

    [Fact]
    public async Task FuzzedFramesNeverStopTheServerFromServingAGoodClientAndLeakNoConnection()
    {
        var good = await fixture.NewUserAsync();
        await using var client = await TestClient.LoginAsync(Server, good);
        var baseline = Server.Sessions.ConnectionCount;
        var random = new Random(12345);
        var valid = TestClient.Frame(new Envelope { Send = new SendRequest { ClientMsgId = "f", To = new Target { UserId = good }, Body = ByteString.CopyFromUtf8("fuzz") } });
        var login = TestClient.Frame(new Envelope { Login = new LoginRequest { Token = Server.IssueToken(good) } });
        var frames = 0;
        using var stop = new CancellationTokenSource();
        var pinger = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                Assert.Equal(Envelope.BodyOneofCase.Pong, (await client.RequestAsync(new Envelope { Ping = new Ping() })).BodyCase);
                await Task.Delay(200);
            }
        });

        for (var connection = 0; connection < 60; connection++)
        {
            using var tcp = new TcpClient { NoDelay = true };
            await tcp.ConnectAsync("127.0.0.1", Server.Port).WaitAsync(TestClient.Timeout);
            var stream = tcp.GetStream();
            for (var i = 0; i < 50; i++, frames++)
            {
                byte[] frame;
                switch (random.Next(3))
                {
                    case 0:
                        frame = new byte[random.Next(1, 64)];
                        random.NextBytes(frame);
                        break;
                    case 1:
                        frame = (byte[])(random.Next(2) == 0 ? valid : login).Clone();
                        for (var m = 0; m < 3; m++)
                        {
                            frame[random.Next(frame.Length)] ^= (byte)(1 << random.Next(8));
                        }

                        break;
                    default:
                        frame = (random.Next(2) == 0 ? valid : login)[..random.Next(1, valid.Length)];
                        break;
                }

                try
                {
                    await stream.WriteAsync(frame).AsTask().WaitAsync(TestClient.Timeout);
                }
                catch (IOException)
                {
                    break;
                }
            }

        }

        await stop.CancelAsync();
        await pinger.WaitAsync(TestClient.Timeout);
        Assert.True(frames >= 1000);
        Assert.Equal(Envelope.BodyOneofCase.SendAck, (await client.SendMessageAsync(new Target { UserId = good }, "after-fuzz", "still here")).BodyCase);
        // Every fuzzing connection is gone (closed by the server or by the login timeout); only the good one is left.
        await CrossServerDeliveryTests.Until(() => Server.Sessions.ConnectionCount <= baseline);
        Assert.Single(Server.Sessions.ConnectionsOf(good));
    }
}
