using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using CimAspire.Protocol;
using Google.Protobuf;

namespace CimAspire.Tests.Client.Fakes;

/// <summary>
/// An IM server speaking the wire protocol over a real TcpListener, with switches to misbehave (drop acks, repeat
/// deliveries, refuse sends) and a record of every frame it received. Framing uses Google.Protobuf's own delimited
/// writer, so it checks the SDK's framing against an independent implementation.
/// </summary>
public sealed class FakeImServer : IAsyncDisposable
{
    private readonly FakeCluster _cluster;
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _cts = new();
    private readonly ConcurrentDictionary<Connection, byte> _connections = new();
    private int _dropAcks;

    private FakeImServer(FakeCluster cluster, string serverId)
    {
        _cluster = cluster;
        ServerId = serverId;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
    }

    public string ServerId { get; }

    public int Port { get; }

    public bool IsAlive { get; private set; } = true;

    public int PingIntervalMs { get; set; } = 30_000;

    /// <summary>Send every Deliver twice.</summary>
    public bool DuplicateDelivers { get; set; }

    /// <summary>Answer every SendRequest with this error instead of storing it.</summary>
    public ErrorCode? RefuseSends { get; set; }

    /// <summary>Do not deliver stored messages to recipients (they must sync).</summary>
    public bool SuppressDelivery { get; set; }

    /// <summary>Answer nothing after login (no pongs, no acks) while keeping connections open, like a hung process.</summary>
    public bool Mute { get; set; }

    /// <summary>Every frame received, with the user that sent it (0 before login).</summary>
    public ConcurrentQueue<(long UserId, Envelope Frame)> Received { get; } = new();

    public static FakeImServer Start(FakeCluster cluster, string serverId)
    {
        var server = new FakeImServer(cluster, serverId);
        _ = server.AcceptLoopAsync();
        return server;
    }

    /// <summary>Stores sends but drops the next <paramref name="count"/> SendAcks (the message is stored; the ack is lost).</summary>
    public void DropNextAcks(int count) => Interlocked.Exchange(ref _dropAcks, count);

    public bool IsConnected(long userId) => _connections.Keys.Any(c => c.UserId == userId);

    public IEnumerable<long> ConnectedUsers() => _connections.Keys.Where(c => c.UserId != 0).Select(c => c.UserId);

    public IEnumerable<Envelope> ReceivedOfType(Envelope.BodyOneofCase kind) => Received.Where(r => r.Frame.BodyCase == kind).Select(r => r.Frame);

    /// <summary>Sends a frame to every connection of the user on this server.</summary>
    public async Task PushAsync(long userId, Envelope envelope)
    {
        foreach (var connection in _connections.Keys.Where(c => c.UserId == userId))
        {
            await connection.SendAsync(envelope);
        }
    }

    public async Task DeliverAsync(long userId, ChatMessage message, object? exceptConnection)
    {
        if (SuppressDelivery)
        {
            return;
        }

        foreach (var connection in _connections.Keys.Where(c => c.UserId == userId && !ReferenceEquals(c, exceptConnection)))
        {
            var envelope = new Envelope { Deliver = new Deliver { Message = message } };
            await connection.SendAsync(envelope);
            if (DuplicateDelivers)
            {
                await connection.SendAsync(envelope);
            }
        }
    }

    /// <summary>Sends a Kick to the user's connections, then closes them.</summary>
    public async Task KickAsync(long userId, Kick.Types.Reason reason)
    {
        foreach (var connection in _connections.Keys.Where(c => c.UserId == userId).ToList())
        {
            await connection.SendAsync(new Envelope { Kick = new Kick { Reason = reason, Message = "test kick" } });
            connection.Close();
        }
    }

    /// <summary>Drops every connection abruptly and stops listening, as a killed process would.</summary>
    public void Kill()
    {
        IsAlive = false;
        _cts.Cancel();
        _listener.Stop();
        foreach (var connection in _connections.Keys)
        {
            connection.Abort();
        }
    }

    public ValueTask DisposeAsync()
    {
        if (IsAlive)
        {
            Kill();
        }

        _cts.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (!_cts.IsCancellationRequested)
            {
                var socket = await _listener.AcceptSocketAsync(_cts.Token);
                var connection = new Connection(socket);
                _connections[connection] = 0;
                _ = ServeAsync(connection);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task ServeAsync(Connection connection)
    {
        try
        {
            while (true)
            {
                var envelope = await connection.ReadAsync(_cts.Token);
                if (envelope is null)
                {
                    return;
                }

                Received.Enqueue((connection.UserId, envelope));
                await HandleAsync(connection, envelope);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or InvalidProtocolBufferException)
        {
        }
        finally
        {
            _connections.TryRemove(connection, out _);
            connection.Abort();
        }
    }

    private async Task HandleAsync(Connection connection, Envelope envelope)
    {
        if (connection.UserId == 0)
        {
            var claims = envelope.BodyCase == Envelope.BodyOneofCase.Login ? _cluster.CheckToken(envelope.Login.Token) : null;
            if (claims is not { } c || c.ServerId != ServerId)
            {
                await connection.SendAsync(new Envelope
                {
                    RequestId = envelope.RequestId,
                    Error = new Error { Code = ErrorCode.InvalidToken, Message = "bad token", Fatal = true },
                });
                connection.Close();
                return;
            }

            connection.UserId = c.UserId;
            await connection.SendAsync(new Envelope
            {
                RequestId = envelope.RequestId,
                LoginResult = new LoginResult
                {
                    UserId = c.UserId,
                    UserName = _cluster.NameOf(c.UserId) ?? "?",
                    ServerId = ServerId,
                    PingIntervalMs = PingIntervalMs,
                    IdleTimeoutMs = PingIntervalMs * 3,
                    ServerTimeMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                },
            });
            return;
        }

        if (Mute)
        {
            return;
        }

        switch (envelope.BodyCase)
        {
            case Envelope.BodyOneofCase.Ping:
                await connection.SendAsync(new Envelope { Pong = new Pong { ClientTimeMs = envelope.Ping.ClientTimeMs, ServerTimeMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() } });
                break;
            case Envelope.BodyOneofCase.Send:
                await HandleSendAsync(connection, envelope);
                break;
            case Envelope.BodyOneofCase.Sync:
                var sync = envelope.Sync;
                var response = string.IsNullOrEmpty(sync.ConversationId)
                    ? _cluster.Overview(connection.UserId)
                    : _cluster.Page(sync.ConversationId, sync.AfterSeq, sync.Limit);
                await connection.SendAsync(new Envelope { RequestId = envelope.RequestId, SyncResponse = response });
                break;
            case Envelope.BodyOneofCase.DeliverAck:
                _cluster.Acknowledge(connection.UserId, envelope.DeliverAck.ConversationId, envelope.DeliverAck.Seq);
                break;
            case Envelope.BodyOneofCase.Read:
                _cluster.MarkRead(connection.UserId, envelope.Read.ConversationId, envelope.Read.Seq);
                break;
            case Envelope.BodyOneofCase.Notice when envelope.Notice.KindCase == Notice.KindOneofCase.Typing:
                var typing = envelope.Notice.Typing.Clone();
                typing.FromUserId = connection.UserId;
                var peers = typing.To.KindCase == Target.KindOneofCase.UserId ? [typing.To.UserId] : _cluster.OnlineUsers().Where(u => u != connection.UserId).ToList();
                foreach (var peer in peers)
                {
                    foreach (var server in _cluster.Servers)
                    {
                        await server.PushAsync(peer, new Envelope { Notice = new Notice { Typing = typing } });
                    }
                }

                break;
            default:
                break;
        }
    }

    private async Task HandleSendAsync(Connection connection, Envelope envelope)
    {
        var send = envelope.Send;
        if (RefuseSends is { } refusal)
        {
            await connection.SendAsync(new Envelope { RequestId = envelope.RequestId, Error = new Error { Code = refusal, Message = "refused by test" } });
            return;
        }

        if (send.To.KindCase == Target.KindOneofCase.GroupId && !_cluster.IsMember(connection.UserId, send.To.GroupId))
        {
            await connection.SendAsync(new Envelope { RequestId = envelope.RequestId, Error = new Error { Code = ErrorCode.NotAMember, Message = "not a member" } });
            return;
        }

        if (send.Transient)
        {
            var transient = new TransientMessage { FromUserId = connection.UserId, To = send.To, ContentType = send.ContentType, Body = send.Body, ClientMsgId = send.ClientMsgId };
            foreach (var server in _cluster.Servers)
            {
                await server.PushAsync(send.To.UserId, new Envelope { Notice = new Notice { Transient = transient } });
            }

            return;
        }

        var (message, duplicate) = _cluster.Store(connection.UserId, send, envelope.Traceparent);
        if (!duplicate)
        {
            await _cluster.DispatchAsync(message, connection);
        }

        if (Interlocked.Decrement(ref _dropAcks) >= 0)
        {
            return;
        }

        await connection.SendAsync(new Envelope
        {
            RequestId = envelope.RequestId,
            SendAck = new SendAck
            {
                ClientMsgId = send.ClientMsgId,
                ServerMsgId = message.ServerMsgId,
                ConversationId = message.ConversationId,
                Seq = message.Seq,
                ServerTimeMs = message.ServerTimeMs,
                Duplicate = duplicate,
            },
        });
    }

    private sealed class Connection(Socket socket)
    {
        private readonly NetworkStream _stream = new(socket, ownsSocket: true);
        private readonly SemaphoreSlim _writeLock = new(1, 1);

        public long UserId { get; set; }

        public async Task<Envelope?> ReadAsync(CancellationToken ct)
        {
            var length = 0;
            for (var shift = 0; ; shift += 7)
            {
                var one = new byte[1];
                if (await _stream.ReadAsync(one, ct) == 0)
                {
                    return null;
                }

                length |= (one[0] & 0x7F) << shift;
                if ((one[0] & 0x80) == 0)
                {
                    break;
                }
            }

            var body = new byte[length];
            await _stream.ReadExactlyAsync(body, ct);
            return Envelope.Parser.ParseFrom(body);
        }

        public async Task SendAsync(Envelope envelope)
        {
            using var buffer = new MemoryStream();
            envelope.WriteDelimitedTo(buffer);
            await _writeLock.WaitAsync();
            try
            {
                await _stream.WriteAsync(buffer.ToArray());
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
            {
                // The client is gone; a real server would drop the frame too.
            }
            finally
            {
                _writeLock.Release();
            }
        }

        public void Close()
        {
            try
            {
                socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }

            _stream.Dispose();
        }

        public void Abort()
        {
            try
            {
                socket.LingerState = new LingerOption(true, 0);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }

            _stream.Dispose();
        }
    }
}
