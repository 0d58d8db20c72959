using System.Net;
using System.Net.Sockets;
using CimAspire.Benchmarks.Wire;
using CimAspire.Protocol;
using Google.Protobuf;

namespace CimAspire.Tests.Benchmarks;

public class WireConnectionTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task LogsInAndMatchesRepliesToRequestsWhilePassingOtherFrames()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var server = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            using var stream = new NetworkStream(socket);
            var login = Envelope.Parser.ParseDelimitedFrom(stream);
            Assert.Equal("the-token", login.Login.Token);
            // An unsolicited frame first, then the reply, both in one write, the reply split over two writes.
            var notice = new Envelope { Notice = new Notice { Typing = new Typing { FromUserId = 9, Typing_ = true } } };
            var reply = new Envelope { RequestId = login.RequestId, LoginResult = new LoginResult { UserId = 5, UserName = "u5", ServerId = "s1" } };
            using var frames = new MemoryStream();
            notice.WriteDelimitedTo(frames);
            reply.WriteDelimitedTo(frames);
            var bytes = frames.ToArray();
            await stream.WriteAsync(bytes.AsMemory(0, bytes.Length - 3));
            await stream.FlushAsync();
            await Task.Delay(50);
            await stream.WriteAsync(bytes.AsMemory(bytes.Length - 3));
            var send = Envelope.Parser.ParseDelimitedFrom(stream);
            new Envelope { RequestId = send.RequestId, Error = new Error { Code = ErrorCode.RateLimited, Message = "slow down" } }.WriteDelimitedTo(stream);
            await stream.FlushAsync();
        });

        var endpoint = (IPEndPoint)listener.LocalEndpoint;
        await using var connection = await WireConnection.ConnectAsync(endpoint, null, CancellationToken.None).WaitAsync(Timeout);
        var unsolicited = new TaskCompletionSource<Envelope>(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.FrameReceived = e => unsolicited.TrySetResult(e);
        var result = await connection.RequestAsync(new Envelope { Login = new LoginRequest { Token = "the-token" } }, Timeout, CancellationToken.None);
        Assert.Equal(5, result.LoginResult.UserId);
        Assert.Equal(9, (await unsolicited.Task.WaitAsync(Timeout)).Notice.Typing.FromUserId);

        var refused = await connection.RequestAsync(new Envelope { Send = new SendRequest { ClientMsgId = "1" } }, Timeout, CancellationToken.None);
        var error = WireException.From(refused, "send");
        Assert.Equal(ErrorCode.RateLimited, error.Code);
        await server.WaitAsync(Timeout);
    }

    [Fact]
    public async Task ARequestPendingWhenTheServerClosesGetsNoReplyAndTheCallerHearsOfIt()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var server = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            using var stream = new NetworkStream(socket);
            Envelope.Parser.ParseDelimitedFrom(stream);
        });

        await using var connection = await WireConnection.ConnectAsync((IPEndPoint)listener.LocalEndpoint, null, CancellationToken.None).WaitAsync(Timeout);
        var e = await Assert.ThrowsAsync<WireException>(() =>
            connection.RequestAsync(new Envelope { Login = new LoginRequest { Token = "t" } }, Timeout, CancellationToken.None));
        Assert.Equal(ErrorCode.Unavailable, e.Code);
        await connection.Closed.WaitAsync(Timeout);
        await server.WaitAsync(Timeout);
    }

    [Fact]
    public async Task RefusesToConnectAnywhereButLoopback()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(() =>
            WireConnection.ConnectAsync(new IPEndPoint(IPAddress.Parse("10.9.8.7"), 5000), null, CancellationToken.None));
    }
}
