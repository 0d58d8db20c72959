using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using CimAspire.Protocol;
using Google.Protobuf;

namespace CimAspire.Benchmarks.Wire;

/// <summary>
/// A protocol-level CimAspire client: one TCP connection speaking varint32-length-prefixed <see cref="Envelope"/> frames.
/// Cheap enough for tens of thousands per process: frames queued by any thread are written in batches by one flush loop;
/// one receive loop parses frames and hands replies to the callback registered with the request, everything else to
/// <see cref="FrameReceived"/>.
/// </summary>
public sealed class WireConnection : IAsyncDisposable
{
    private const int MaxFrameBytes = 4 * 1024 * 1024;
    private readonly Socket _socket;
    private readonly object _writeGate = new();
    private readonly ConcurrentDictionary<ulong, Action<Envelope?>> _pending = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ArrayBufferWriter<byte> _queued = new(256);
    private ArrayBufferWriter<byte> _writing = new(256);
    private bool _flushing;
    private long _nextRequestId;
    private long _lastWriteTimestamp = Stopwatch.GetTimestamp();
    private int _disposed;

    private WireConnection(Socket socket, IPEndPoint server)
    {
        _socket = socket;
        Server = server;
    }

    public IPEndPoint Server { get; }

    /// <summary>Unsolicited frames (Deliver, Notice, Kick, Error without a request id...), on the receive loop.</summary>
    public Action<Envelope>? FrameReceived { get; set; }

    /// <summary>Completes when the connection is closed, by either side.</summary>
    public Task Closed => _closed.Task;

    public bool IsOpen => !_closed.Task.IsCompleted;

    /// <summary>When this connection last wrote a frame (a <see cref="Stopwatch"/> timestamp), for heartbeats.</summary>
    public long LastWriteTimestamp => Interlocked.Read(ref _lastWriteTimestamp);

    public LoginResult? Login { get; private set; }

    /// <summary>Connects to a loopback server, from <paramref name="localAddress"/> when given (to spread over 127.0.0.x).</summary>
    public static async Task<WireConnection> ConnectAsync(IPEndPoint server, IPAddress? localAddress, CancellationToken cancellationToken)
    {
        if (!IPAddress.IsLoopback(server.Address))
        {
            throw new InvalidOperationException($"The harness only sends load to loopback addresses, not {server}.");
        }

        var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (localAddress is not null)
            {
                socket.Bind(new IPEndPoint(localAddress, 0));
            }

            await socket.ConnectAsync(server, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var connection = new WireConnection(socket, server);
        _ = connection.ReceiveLoopAsync();
        return connection;
    }

    /// <summary>Connects and logs in with a token for this server; throws <see cref="WireException"/> if refused.</summary>
    public static async Task<WireConnection> ConnectAndLoginAsync(
        IPEndPoint server, IPAddress? localAddress, string token, string deviceId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var connection = await ConnectAsync(server, localAddress, cancellationToken).WaitAsync(timeout, cancellationToken);
        try
        {
            var reply = await connection.RequestAsync(
                new Envelope { Login = new LoginRequest { Token = token, Client = "cim-bench/1.0", DeviceId = deviceId } },
                timeout,
                cancellationToken);
            if (reply.BodyCase != Envelope.BodyOneofCase.LoginResult)
            {
                throw WireException.From(reply, "login");
            }

            connection.Login = reply.LoginResult;
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Queues a frame without waiting for a reply.</summary>
    public void Send(Envelope envelope) => Enqueue(envelope);

    /// <summary>Queues a request; <paramref name="onReply"/> runs on the receive loop with the reply, or with null if the connection closed first.</summary>
    public void Send(Envelope envelope, Action<Envelope?> onReply)
    {
        var id = (ulong)Interlocked.Increment(ref _nextRequestId);
        envelope.RequestId = id;
        _pending[id] = onReply;
        if (!IsOpen && _pending.TryRemove(id, out var callback))
        {
            callback(null);
            return;
        }

        Enqueue(envelope);
    }

    public async Task<Envelope> RequestAsync(Envelope envelope, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var reply = new TaskCompletionSource<Envelope?>(TaskCreationOptions.RunContinuationsAsynchronously);
        Send(envelope, e => reply.TrySetResult(e));
        var result = await reply.Task.WaitAsync(timeout, cancellationToken);
        return result ?? throw new WireException(ErrorCode.Unavailable, $"The connection to {Server} closed before the {envelope.BodyCase} reply.");
    }

    public void Ping() => Enqueue(new Envelope { Ping = new Ping { ClientTimeMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() } });

    private void Enqueue(IMessage envelope)
    {
        lock (_writeGate)
        {
            if (_disposed != 0)
            {
                return;
            }

            EnvelopeFraming.Write(_queued, envelope);
            if (_flushing)
            {
                return;
            }

            _flushing = true;
        }

        _ = FlushLoopAsync();
    }

    private async Task FlushLoopAsync()
    {
        try
        {
            while (true)
            {
                lock (_writeGate)
                {
                    if (_queued.WrittenCount == 0)
                    {
                        _flushing = false;
                        return;
                    }

                    (_queued, _writing) = (_writing, _queued);
                }

                var data = _writing.WrittenMemory;
                while (!data.IsEmpty)
                {
                    var sent = await _socket.SendAsync(data, SocketFlags.None);
                    data = data[sent..];
                }

                Interlocked.Exchange(ref _lastWriteTimestamp, Stopwatch.GetTimestamp());
                _writing.ResetWrittenCount();
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            Close();
        }
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(1024);
        var filled = 0;
        try
        {
            while (true)
            {
                if (filled == buffer.Length)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, filled).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }

                var read = await _socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None);
                if (read == 0)
                {
                    return;
                }

                filled += read;
                var consumed = ParseFrames(buffer.AsSpan(0, filled));
                if (consumed > 0)
                {
                    buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                    filled -= consumed;
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidProtocolBufferException or InvalidDataException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            Close();
        }
    }

    private int ParseFrames(ReadOnlySpan<byte> data)
    {
        var offset = 0;
        while (EnvelopeFraming.TryRead(data[offset..], MaxFrameBytes, out var envelope, out var consumed))
        {
            offset += consumed;
            Dispatch(envelope!);
        }

        return offset;
    }

    private void Dispatch(Envelope envelope)
    {
        if (envelope.RequestId != 0 && _pending.TryRemove(envelope.RequestId, out var callback))
        {
            callback(envelope);
            return;
        }

        FrameReceived?.Invoke(envelope);
    }

    private void Close()
    {
        if (!_closed.TrySetResult())
        {
            return;
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        _socket.Dispose();
        foreach (var id in _pending.Keys)
        {
            if (_pending.TryRemove(id, out var callback))
            {
                callback(null);
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Close();
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>A frame the server answered with an <see cref="Protocol.Error"/> (or something else than expected).</summary>
public sealed class WireException(ErrorCode code, string message) : Exception(message)
{
    public ErrorCode Code { get; } = code;

    public static WireException From(Envelope reply, string operation) => reply.BodyCase == Envelope.BodyOneofCase.Error
        ? new WireException(reply.Error.Code, $"{operation} refused: {reply.Error.Code} {reply.Error.Message}")
        : new WireException(ErrorCode.Unspecified, $"{operation}: unexpected reply {reply.BodyCase}");
}
