using System.Buffers;
using System.Net.Sockets;
using System.Threading.Channels;
using CimAspire.Protocol;
using Microsoft.Extensions.Logging;

namespace CimAspire.Client.Transport;

/// <summary>
/// One TCP connection to an IM server: an async read loop that hands each frame to a callback, and a write loop that
/// drains a channel of envelopes into one socket write per batch. No thread of its own; closes once, for one reason.
/// </summary>
internal sealed class ImConnection : IAsyncDisposable
{
    private const int InitialReadBuffer = 16 * 1024;
    private const int MaxWriteBatchBytes = 64 * 1024;

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly int _maxFrameBytes;
    private readonly ILogger _logger;
    private readonly Channel<Envelope> _outbox = Channel.CreateUnbounded<Envelope>(
        new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });

    private readonly CancellationTokenSource _cts = new();
    private readonly TaskCompletionSource<Exception?> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lastWriteTicks = Environment.TickCount64;
    private long _lastReadTicks = Environment.TickCount64;
    private int _closing;

    private ImConnection(Socket socket, ServerEndpoint endpoint, int maxFrameBytes, ILogger logger)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        Endpoint = endpoint;
        _maxFrameBytes = maxFrameBytes;
        _logger = logger;
    }

    public ServerEndpoint Endpoint { get; }

    /// <summary>Completes when the connection is closed, with the reason (null when closed on purpose).</summary>
    public Task<Exception?> Closed => _closed.Task;

    /// <summary>Cancelled when the connection closes.</summary>
    public CancellationToken ClosedToken => _cts.Token;

    public bool IsClosed => Volatile.Read(ref _closing) != 0;

    /// <summary>The server's reply to the login frame.</summary>
    public TaskCompletionSource<Envelope> LoginReply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public static async Task<ImConnection> ConnectAsync(
        ServerEndpoint endpoint, int maxFrameBytes, ILogger logger, CancellationToken ct)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint.Host, endpoint.Port, ct).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new ImConnection(socket, endpoint, maxFrameBytes, logger);
    }

    /// <summary>Starts the loops. <paramref name="onFrame"/> runs on the read loop, in arrival order.</summary>
    public void Start(Action<ImConnection, Envelope> onFrame, Action<ImConnection> onBatchEnd)
    {
        _ = ReadLoopAsync(onFrame, onBatchEnd);
        _ = WriteLoopAsync();
    }

    /// <summary>Queues a frame; false when the connection is closed.</summary>
    public bool TryEnqueue(Envelope envelope) => !IsClosed && _outbox.Writer.TryWrite(envelope);

    /// <summary>
    /// Pings whenever nothing was written for <paramref name="pingInterval"/>, and closes the connection when nothing
    /// was read for <paramref name="silenceLimit"/> (the server answers every ping, so silence means it is gone).
    /// </summary>
    public void StartHeartbeat(TimeSpan pingInterval, TimeSpan silenceLimit) => _ = HeartbeatLoopAsync(pingInterval, silenceLimit);

    /// <summary>Closes the connection; the first reason wins.</summary>
    public void Close(Exception? reason)
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0)
        {
            return;
        }

        _outbox.Writer.TryComplete();
        _cts.Cancel();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already reset by the peer.
        }
        catch (ObjectDisposedException)
        {
        }

        _stream.Dispose();
        _closed.TrySetResult(reason);
        LoginReply.TrySetException(reason ?? new ConnectionLostException("The connection was closed."));
    }

    public ValueTask DisposeAsync()
    {
        Close(null);
        _cts.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task ReadLoopAsync(Action<ImConnection, Envelope> onFrame, Action<ImConnection> onBatchEnd)
    {
        await Task.Yield();
        var buffer = ArrayPool<byte>.Shared.Rent(InitialReadBuffer);
        var start = 0;
        var end = 0;
        Exception? reason = null;
        try
        {
            while (true)
            {
                if (end == buffer.Length)
                {
                    if (start > 0)
                    {
                        buffer.AsSpan(start, end - start).CopyTo(buffer);
                        end -= start;
                        start = 0;
                    }
                    else
                    {
                        // A frame larger than the buffer: grow up to the frame limit (the codec rejects larger ones).
                        var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, _maxFrameBytes + 5));
                        if (bigger.Length <= buffer.Length)
                        {
                            throw new InvalidDataException("A frame does not fit the frame limit.");
                        }

                        buffer.AsSpan(0, end).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }
                }

                var read = await _stream.ReadAsync(buffer.AsMemory(end), _cts.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    reason = new ConnectionLostException("The server closed the connection.");
                    break;
                }

                Volatile.Write(ref _lastReadTicks, Environment.TickCount64);
                end += read;
                while (EnvelopeFraming.TryRead(buffer.AsSpan(start, end - start), _maxFrameBytes, out var envelope, out var consumed))
                {
                    start += consumed;
                    onFrame(this, envelope!);
                }

                if (start == end)
                {
                    start = end = 0;
                }

                onBatchEnd(this);
            }
        }
        catch (OperationCanceledException) when (_cts.IsCancellationRequested)
        {
        }
        catch (ObjectDisposedException) when (IsClosed)
        {
        }
        catch (Exception e) when (e is IOException or SocketException or InvalidDataException)
        {
            reason = e is InvalidDataException ? e : new ConnectionLostException("The connection was lost: " + e.Message, e);
        }
        catch (Exception e)
        {
            // A bug in frame handling must not leave a half-dead session behind: close and let the client reconnect.
            Log.FrameHandlerFailed(_logger, e);
            reason = e;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            Close(reason);
        }
    }

    private async Task WriteLoopAsync()
    {
        await Task.Yield();
        var batch = new ArrayBufferWriter<byte>(4096);
        var reader = _outbox.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_cts.Token).ConfigureAwait(false))
            {
                while (batch.WrittenCount < MaxWriteBatchBytes && reader.TryRead(out var envelope))
                {
                    EnvelopeFraming.Write(batch, envelope);
                }

                await _stream.WriteAsync(batch.WrittenMemory, _cts.Token).ConfigureAwait(false);
                Volatile.Write(ref _lastWriteTicks, Environment.TickCount64);
                batch.ResetWrittenCount();
            }
        }
        catch (OperationCanceledException) when (_cts.IsCancellationRequested)
        {
        }
        catch (ObjectDisposedException) when (IsClosed)
        {
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            Close(new ConnectionLostException("The connection was lost while writing: " + e.Message, e));
        }
    }

    private async Task HeartbeatLoopAsync(TimeSpan pingInterval, TimeSpan silenceLimit)
    {
        var intervalMs = (long)pingInterval.TotalMilliseconds;
        var silenceMs = (long)silenceLimit.TotalMilliseconds;
        var lastPing = Environment.TickCount64;
        try
        {
            while (!IsClosed)
            {
                var now = Environment.TickCount64;
                var silent = now - Volatile.Read(ref _lastReadTicks);
                if (silent >= silenceMs)
                {
                    Close(new ConnectionLostException($"The server sent nothing for {silent} ms."));
                    return;
                }

                // Ping when nothing was written, and also when nothing was read, so a busy writer still learns the server is alive.
                var idle = now - Volatile.Read(ref _lastWriteTicks);
                var sincePing = now - lastPing;
                if (idle >= intervalMs || (silent >= intervalMs && sincePing >= intervalMs))
                {
                    TryEnqueue(new Envelope { Ping = new Ping { ClientTimeMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() } });
                    lastPing = now;
                    idle = 0;
                    sincePing = 0;
                }

                var untilPing = Math.Min(intervalMs - idle, silent >= intervalMs ? intervalMs - sincePing : intervalMs - silent);
                var wait = Math.Max(50, Math.Min(untilPing, silenceMs - silent));
                await Task.Delay(TimeSpan.FromMilliseconds(wait), _cts.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}

/// <summary>Where an IM server listens.</summary>
internal sealed record ServerEndpoint(string ServerId, string Host, int Port);

/// <summary>The connection to the IM server ended without anyone asking for it.</summary>
internal sealed class ConnectionLostException(string message, Exception? inner = null) : Exception(message, inner);
