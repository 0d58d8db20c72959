using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using CimAspire.ZooKeeper.Protocol;

namespace CimAspire.ZooKeeper.Client;

/// <summary>What a connection reports to the session that owns it. Called on the read loop; must not block.</summary>
internal interface IConnectionOwner
{
    int NextXid();

    void OnZxid(long zxid);

    void OnNotification(int type, string serverPath);
}

/// <summary>
/// One TCP connection to one server: the handshake, a read loop that matches replies to requests in xid order,
/// a ping/read-timeout loop, and serialized writes. Any I/O or protocol error ends it (see <see cref="Closed"/>);
/// requests still pending then fail with ConnectionLoss. It never reconnects: the client does.
/// </summary>
internal sealed class ZooKeeperConnection
{
    private const int ReplyHeaderBytes = 16;
    private const int MinConnectResponseBytes = 36;

    private readonly Socket _socket;
    private NetworkStream? _stream;
    private readonly int _maxFrameBytes;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly Queue<PendingRequest> _pending = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<Exception> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IConnectionOwner? _owner;
    private bool _failed;
    private long _lastReceived;
    private long _lastSent;

    private ZooKeeperConnection(Socket socket, DnsEndPoint endPoint, int maxFrameBytes)
    {
        _socket = socket;
        _maxFrameBytes = maxFrameBytes;
        EndPoint = endPoint;
        _lastReceived = _lastSent = Environment.TickCount64;
    }

    public DnsEndPoint EndPoint { get; }

    private NetworkStream Stream => _stream ?? throw new InvalidOperationException("The socket is not connected yet.");

    public ConnectResponse Handshake { get; private set; }

    /// <summary>Completes with the reason once the connection is gone (never faults).</summary>
    public Task<Exception> Closed => _closed.Task;

    /// <summary>When a frame last arrived (Environment.TickCount64).</summary>
    public long LastReceived => Interlocked.Read(ref _lastReceived);

    /// <summary>Connects and performs the session handshake within <paramref name="timeout"/>.</summary>
    public static async Task<ZooKeeperConnection> OpenAsync(
        DnsEndPoint endPoint, ConnectRequest request, TimeSpan timeout, int maxFrameBytes, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var connection = new ZooKeeperConnection(socket, endPoint, maxFrameBytes);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(endPoint, deadline.Token);
            connection._stream = new NetworkStream(socket, ownsSocket: true);
            await connection.Stream.WriteAsync(Records.ConnectRequestFrame(request), deadline.Token);

            // Nothing else is written until the ConnectResponse arrives: a write racing an expiry reply can turn it into a TCP reset.
            var frame = await connection.ReadFrameAsync(MinConnectResponseBytes, deadline.Token)
                ?? throw new IOException(
                    "The server closed the connection before answering the handshake (it may be behind this client's last zxid, or not serving).");
            try
            {
                connection.Handshake = Records.ReadConnectResponse(frame.Buffer.AsSpan(0, frame.Length));
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(frame.Buffer);
            }

            if (connection.Handshake.TimeoutMs > 0 && connection.Handshake.Password.Length != Records.PasswordLength)
            {
                throw new ZooKeeperProtocolException($"The handshake reply carries a {connection.Handshake.Password.Length}-byte password, not 16.");
            }

            return connection;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            connection.Fail(new TimeoutException());
            throw new TimeoutException($"No handshake with {endPoint.Host}:{endPoint.Port} within {timeout.TotalMilliseconds:0} ms.");
        }
        catch (Exception ex)
        {
            connection.Fail(ex);
            throw;
        }
    }

    /// <summary>Starts the read loop and the ping loop.</summary>
    public void Start(IConnectionOwner owner, TimeSpan readTimeout, TimeSpan pingInterval)
    {
        _owner = owner;
        _ = Task.Run(ReadLoopAsync);
        var pinger = new Thread(() => PingLoop(readTimeout, pingInterval)) { IsBackground = true, Name = "ZooKeeper ping" };
        pinger.Start();
    }

    /// <summary>
    /// Assigns the next xid, queues the request as pending and writes it, all under the write lock so the FIFO order
    /// equals the wire order. The returned task fails with ConnectionLoss if the connection ends first.
    /// </summary>
    public async Task<T> SendAsync<T>(JuteWriter request, PendingRequest<T> pending)
    {
        await _writeLock.WaitAsync();
        try
        {
            lock (_pending)
            {
                if (_failed)
                {
                    throw new ZooKeeperException(ZooKeeperErrorCode.ConnectionLoss, pending.Path, "The connection is closed.");
                }

                pending.Xid = _owner!.NextXid();
                request.PatchInt(Records.XidOffset, pending.Xid);
                _pending.Enqueue(pending);
            }

            // Never cancel a write halfway with the caller's token: a torn frame would corrupt the stream.
            await Stream.WriteAsync(request.ToFrame(), _stop.Token);
            Interlocked.Exchange(ref _lastSent, Environment.TickCount64);
        }
        catch (Exception ex) when (ex is not ZooKeeperException)
        {
            Fail(ex);
        }
        finally
        {
            _writeLock.Release();
        }

        return await pending.Task;
    }

    /// <summary>Ends the connection (idempotent): closes the socket and fails every pending request with ConnectionLoss.</summary>
    public void Fail(Exception reason)
    {
        PendingRequest[] pending;
        lock (_pending)
        {
            if (_failed)
            {
                return;
            }

            _failed = true;
            pending = [.. _pending];
            _pending.Clear();
        }

        _stop.Cancel();
        if (_stream is not null)
        {
            _stream.Dispose();
        }
        else
        {
            _socket.Dispose();
        }
        foreach (var request in pending)
        {
            request.Fail(new ZooKeeperException(
                ZooKeeperErrorCode.ConnectionLoss, request.Path, $"The connection was lost before the reply to {request.Op}: {reason.Message}", reason));
        }

        _closed.TrySetResult(reason);
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var frame = await ReadFrameAsync(ReplyHeaderBytes, _stop.Token)
                    ?? throw new EndOfStreamException("The server closed the connection.");
                try
                {
                    HandleFrame(frame.Buffer.AsSpan(0, frame.Length));
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(frame.Buffer);
                }
            }
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
    }

    private void HandleFrame(ReadOnlySpan<byte> payload)
    {
        var reader = new JuteReader(payload);
        var header = Records.ReadReplyHeader(ref reader);
        switch (header.Xid)
        {
            case Xids.Notification:
                var (type, _, path) = Records.ReadWatcherEvent(ref reader);
                _owner!.OnNotification(type, path);
                return;
            case Xids.Ping:
                return;
            case Xids.Auth:
                throw new ZooKeeperProtocolException("An auth reply arrived, but this client never sent an auth packet.");
        }

        PendingRequest? request;
        lock (_pending)
        {
            _pending.TryDequeue(out request);
        }

        if (request is null)
        {
            throw new ZooKeeperProtocolException($"A reply with xid {header.Xid} arrived, but no request is pending.");
        }

        if (request.Xid != header.Xid)
        {
            var error = new ZooKeeperProtocolException($"Xid out of order: expected the reply to xid {request.Xid} ({request.Op}), got xid {header.Xid}.");
            request.Fail(new ZooKeeperException(ZooKeeperErrorCode.ConnectionLoss, request.Path, error.Message, error));
            throw error;
        }

        if (header.Zxid > 0)
        {
            _owner!.OnZxid(header.Zxid);
        }

        request.Complete(header.Error, ref reader);
    }

    /// <summary>
    /// Pings and enforces the read timeout on a dedicated thread: a starved thread pool must not delay pings until the
    /// server expires a healthy session (a failure seen in another .NET client).
    /// </summary>
    private void PingLoop(TimeSpan readTimeout, TimeSpan pingInterval)
    {
        var tick = TimeSpan.FromMilliseconds(Math.Clamp(pingInterval.TotalMilliseconds / 4, 20, 1000));
        var ping = Records.PingFrame();
        var stopped = _stop.Token.WaitHandle;
        try
        {
            while (!stopped.WaitOne(tick))
            {
                var now = Environment.TickCount64;
                var silent = now - LastReceived;
                if (silent > readTimeout.TotalMilliseconds)
                {
                    Fail(new TimeoutException($"Nothing heard from the server in {silent} ms (read timeout {readTimeout.TotalMilliseconds:0} ms)."));
                    return;
                }

                if (now - Interlocked.Read(ref _lastSent) < pingInterval.TotalMilliseconds)
                {
                    continue;
                }

                _writeLock.Wait(_stop.Token);
                try
                {
                    // Pings always carry xid -2 and stay out of the pending FIFO (a positive xid leaks the server's throttle count).
                    Stream.Write(ping.Span);
                    Interlocked.Exchange(ref _lastSent, Environment.TickCount64);
                }
                finally
                {
                    _writeLock.Release();
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Fail(ex);
        }
    }

    /// <summary>Reads one length-prefixed frame into a pooled buffer; null on a clean EOF at a frame boundary.</summary>
    private async Task<(byte[] Buffer, int Length)?> ReadFrameAsync(int minimumLength, CancellationToken cancellationToken)
    {
        var prefix = new byte[4];
        var first = await Stream.ReadAsync(prefix.AsMemory(0, 4), cancellationToken);
        if (first == 0)
        {
            return null;
        }

        if (first < 4)
        {
            await ReadExactlyOrThrowAsync(prefix.AsMemory(first), "length prefix", cancellationToken);
        }

        var length = BinaryPrimitives.ReadInt32BigEndian(prefix);
        if (length < minimumLength || length > _maxFrameBytes)
        {
            throw new ZooKeeperProtocolException(
                $"The server sent a frame length of {length} bytes; accepted are {minimumLength} to {_maxFrameBytes} (MaxFrameBytes).");
        }

        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            await ReadExactlyOrThrowAsync(buffer.AsMemory(0, length), "frame", cancellationToken);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }

        Interlocked.Exchange(ref _lastReceived, Environment.TickCount64);
        return (buffer, length);
    }

    private async Task ReadExactlyOrThrowAsync(Memory<byte> buffer, string what, CancellationToken cancellationToken)
    {
        try
        {
            await Stream.ReadExactlyAsync(buffer, cancellationToken);
        }
        catch (EndOfStreamException ex)
        {
            throw new ZooKeeperProtocolException($"The server closed the connection in the middle of a {what} (a truncated frame).", ex);
        }
    }
}
