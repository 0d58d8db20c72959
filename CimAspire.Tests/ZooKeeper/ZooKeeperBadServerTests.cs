using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using CimAspire.ZooKeeper;
using CimAspire.ZooKeeper.Protocol;
using Xunit.Abstractions;
using static CimAspire.Tests.ZooKeeper.ZooKeeperTestSupport;

namespace CimAspire.Tests.ZooKeeper;

/// <summary>
/// A fake server that breaks the protocol: the client must fail the affected request with ConnectionLoss, close the
/// connection, report Disconnected and stay usable (closable, no hang, no crash) within a bounded time.
/// </summary>
public class ZooKeeperBadServerTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Garbage_instead_of_a_handshake_is_rejected_and_the_connection_closed()
    {
        await using var server = new FakeServer(async stream =>
        {
            await ReadFrameAsync(stream);
            await stream.WriteAsync("HTTP/1.1 400 Bad Request\r\n\r\n"u8.ToArray());
        });
        await using var client = NewClient(server.Port);
        client.Start();

        await server.FirstClosedByClient.WaitAsync(Bound);
        Assert.NotEqual(ZooKeeperConnectionState.Connected, client.State);
        var ex = await Assert.ThrowsAsync<ZooKeeperException>(() => client.ExistsAsync("/x").WaitAsync(Bound));
        Assert.Equal(ZooKeeperErrorCode.ConnectionLoss, ex.Code);
    }

    [Fact]
    public async Task An_oversize_length_fails_the_request_and_closes_the_connection()
    {
        await using var server = new FakeServer(async stream =>
        {
            await HandshakeAsync(stream);
            await ReadFrameAsync(stream);
            await stream.WriteAsync(Hex("7fffffff 00000001"));
        });
        await AssertRequestFailsCleanlyAsync(server, "MaxFrameBytes");
    }

    [Fact]
    public async Task A_negative_length_fails_the_request_and_closes_the_connection()
    {
        await using var server = new FakeServer(async stream =>
        {
            await HandshakeAsync(stream);
            await ReadFrameAsync(stream);
            await stream.WriteAsync(Hex("fffffff0"));
        });
        await AssertRequestFailsCleanlyAsync(server, "frame length");
    }

    [Fact]
    public async Task A_truncated_frame_followed_by_a_close_fails_the_request()
    {
        await using var server = new FakeServer(async stream =>
        {
            await HandshakeAsync(stream);
            await ReadFrameAsync(stream);
            await stream.WriteAsync(Hex("00000064 00000001 0000000000000005"));
            stream.Close();
        });
        await AssertRequestFailsCleanlyAsync(server, "truncated");
    }

    [Fact]
    public async Task A_truncated_frame_on_an_open_socket_fails_by_the_read_timeout_instead_of_hanging()
    {
        await using var server = new FakeServer(async stream =>
        {
            await HandshakeAsync(stream);
            await ReadFrameAsync(stream);
            await stream.WriteAsync(Hex("00000064 00000001 0000000000000005"));
            // Keep the socket open and silent: the client must give up on its own.
        });
        await AssertRequestFailsCleanlyAsync(server, "Nothing heard");
    }

    [Fact]
    public async Task A_reply_body_that_overruns_its_frame_fails_the_request()
    {
        await using var server = new FakeServer(async stream =>
        {
            await HandshakeAsync(stream);
            var request = await ReadFrameAsync(stream);
            var xid = BinaryPrimitives.ReadInt32BigEndian(request);

            // A getData reply whose data buffer claims 1000 bytes in a 24-byte frame.
            byte[] reply = [.. Hex("00000018"), .. Int(xid), .. Hex("0000000000000005 00000000 000003e8 41414141")];
            await stream.WriteAsync(reply);
        });
        await AssertRequestFailsCleanlyAsync(server, "does not fit", getData: true);
    }

    [Fact]
    public async Task A_reply_with_an_unexpected_xid_fails_the_request()
    {
        await using var server = new FakeServer(async stream =>
        {
            await HandshakeAsync(stream);
            await ReadFrameAsync(stream);
            await stream.WriteAsync(Hex("00000010 000003e7 0000000000000005 00000000"));
        });
        await AssertRequestFailsCleanlyAsync(server, "Xid out of order");
    }

    [Fact]
    public async Task A_server_that_never_answers_the_handshake_does_not_hang_requests()
    {
        await using var server = new FakeServer(async stream =>
        {
            await ReadFrameAsync(stream);
            // Keep the socket open and silent: the client must give up on its own.
        });
        await using var client = NewClient(server.Port);
        var ex = await Assert.ThrowsAsync<ZooKeeperException>(() => client.GetChildrenAsync("/").WaitAsync(Bound));
        Assert.Equal(ZooKeeperErrorCode.ConnectionLoss, ex.Code);
        await server.FirstClosedByClient.WaitAsync(Bound);
        await client.CloseAsync().WaitAsync(Bound);
        Assert.Equal(ZooKeeperConnectionState.Closed, client.State);
    }

    private async Task AssertRequestFailsCleanlyAsync(FakeServer server, string reason, bool getData = false)
    {
        await using var client = NewClient(server.Port);
        var connected = NextState(client, c => c.State == ZooKeeperConnectionState.Connected);
        var disconnected = NextState(client, c => c.State == ZooKeeperConnectionState.Disconnected);
        await client.ConnectAsync().WaitAsync(Bound);
        await connected.WaitAsync(Bound);

        var request = getData ? client.GetDataAsync("/x") : (Task)client.ExistsAsync("/x");
        var ex = await Assert.ThrowsAsync<ZooKeeperException>(() => request.WaitAsync(Bound));
        Assert.Equal(ZooKeeperErrorCode.ConnectionLoss, ex.Code);
        Assert.Contains(reason, ex.ToString(), StringComparison.OrdinalIgnoreCase);

        Assert.Contains(reason, (await disconnected.WaitAsync(Bound)).Reason, StringComparison.OrdinalIgnoreCase);
        await server.FirstClosedByClient.WaitAsync(Bound);
        await client.CloseAsync().WaitAsync(Bound);
        Assert.Equal(ZooKeeperConnectionState.Closed, client.State);
    }

    private ZooKeeperClient NewClient(int port)
    {
        return new ZooKeeperClient(
            new ZooKeeperClientOptions
            {
                ConnectionString = $"127.0.0.1:{port}",
                SessionTimeout = TimeSpan.FromSeconds(3),
                ReconnectDelay = TimeSpan.FromMilliseconds(200),
            },
            new TestOutputLogger<ZooKeeperClient>(output));
    }

    private static async Task HandshakeAsync(NetworkStream stream)
    {
        await ReadFrameAsync(stream);
        var response = new JuteWriter();
        response.WriteInt(0);
        response.WriteInt(3000);
        response.WriteLong(0x1234);
        response.WriteBuffer(new byte[16]);
        response.WriteBool(false);
        await stream.WriteAsync(response.ToFrame());
    }

    private static byte[] Int(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(bytes, value);
        return bytes;
    }

    private static byte[] Hex(string hex)
    {
        return Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));
    }

    /// <summary>Runs a script for every accepted connection and reports when the client closed the first one.</summary>
    private sealed class FakeServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly TaskCompletionSource _firstClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<TcpClient> _connections = [];
        private readonly Task _acceptLoop;
        private int _accepted;

        public FakeServer(Func<NetworkStream, Task> script)
        {
            _listener.Start();
            _acceptLoop = AcceptLoopAsync(script);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public CancellationToken Stopping => _stop.Token;

        /// <summary>Completes when the client closed (or reset) the first connection.</summary>
        public Task FirstClosedByClient => _firstClosed.Task;

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Stop();
            lock (_connections)
            {
                foreach (var connection in _connections)
                {
                    connection.Dispose();
                }
            }

            await _acceptLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        private async Task AcceptLoopAsync(Func<NetworkStream, Task> script)
        {
            while (!_stop.IsCancellationRequested)
            {
                var connection = await _listener.AcceptTcpClientAsync(_stop.Token);
                lock (_connections)
                {
                    _connections.Add(connection);
                }

                var first = Interlocked.Increment(ref _accepted) == 1;
                _ = ServeAsync(connection, script, first);
            }
        }

        private async Task ServeAsync(TcpClient connection, Func<NetworkStream, Task> script, bool first)
        {
            var stream = connection.GetStream();
            try
            {
                await script(stream);

                // Then read (and ignore, e.g. pings) until the client closes its end.
                var sink = new byte[1024];
                while (await stream.ReadAsync(sink, _stop.Token) > 0)
                {
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
            {
            }

            if (first)
            {
                _firstClosed.TrySetResult();
            }
        }
    }
}
