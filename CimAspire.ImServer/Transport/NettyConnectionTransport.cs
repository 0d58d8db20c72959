using System.Buffers;
using System.Net;
using CimAspire.ImServer.Sessions;
using CimAspire.Protocol;
using DotNetty.Transport.Channels;

namespace CimAspire.ImServer.Transport;

/// <summary>
/// The DotNetty channel behind <see cref="IConnectionTransport"/>. Frames sent from any thread are queued, and one task
/// on the channel's event loop encodes everything queued so far into one pooled buffer and writes and flushes it: a
/// burst of frames costs one hop to the loop, one pass through the pipeline and one system call, and a frame is never
/// left behind a flush that already ran.
/// </summary>
public sealed class NettyConnectionTransport : IConnectionTransport
{
    // The largest burst whose frame sizes are kept on the stack during a drain; a longer one rents an array.
    private const int StackFrames = 64;

    private readonly IChannel _channel;
    private readonly Lock _gate = new();
    private readonly Action _drain;
    // Frames waiting for the next drain; null while none are.
    private List<Envelope>? _outbound;
    // The list the last drain emptied, reused by the next Send (only the loop and the lock holder touch it).
    private List<Envelope>? _spare;

    public NettyConnectionTransport(IChannel channel)
    {
        _channel = channel;
        _drain = Drain;
        Id = channel.Id.AsShortText();
        RemoteAddress = channel.RemoteAddress is IPEndPoint ip ? ip.ToString() : channel.RemoteAddress?.ToString() ?? "?";
    }

    public string Id { get; }

    public string RemoteAddress { get; }

    public void Send(Envelope envelope)
    {
        if (!_channel.Active)
        {
            return;
        }

        bool first;
        lock (_gate)
        {
            first = _outbound is null;
            if (first)
            {
                _outbound = _spare ?? [];
                _spare = null;
            }

            _outbound!.Add(envelope);
        }

        if (first)
        {
            _channel.EventLoop.Execute(_drain);
        }
    }

    public void SendAndClose(Envelope envelope)
    {
        if (!_channel.Active)
        {
            return;
        }

        // After whatever is queued, so a final frame (a kick, a fatal error) is the last thing the client reads.
        _channel.EventLoop.Execute(() =>
        {
            Drain();
            _channel.WriteAndFlushAsync(envelope).ContinueWith(_ => _channel.CloseAsync(), TaskScheduler.Default);
        });
    }

    public void Abort() => _ = _channel.CloseAsync();

    /// <summary>Runs on the event loop. Takes the whole queue: a frame queued after that schedules another drain.</summary>
    private void Drain()
    {
        List<Envelope>? frames;
        lock (_gate)
        {
            frames = _outbound;
            _outbound = null;
        }

        if (frames is null)
        {
            return;
        }

        // Body sizes first, so the frames are encoded straight into one buffer of the right size.
        var rented = frames.Count > StackFrames ? ArrayPool<int>.Shared.Rent(frames.Count) : null;
        var bodySizes = rented is null ? stackalloc int[StackFrames] : rented.AsSpan();
        try
        {
            Write(frames, bodySizes);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<int>.Shared.Return(rented);
            }
        }

        frames.Clear();
        lock (_gate)
        {
            _spare = frames;
        }
    }

    private void Write(List<Envelope> frames, Span<int> bodySizes)
    {
        var total = 0;
        for (var i = 0; i < frames.Count; i++)
        {
            total += EnvelopeFraming.FrameSize(frames[i], out bodySizes[i]);
        }

        var buffer = _channel.Allocator.Buffer(total);
        if (buffer.HasArray)
        {
            var span = buffer.Array.AsSpan(buffer.ArrayOffset + buffer.WriterIndex, total);
            for (var i = 0; i < frames.Count; i++)
            {
                span = span[EnvelopeFraming.Write(span, frames[i], bodySizes[i])..];
            }

            buffer.SetWriterIndex(buffer.WriterIndex + total);
            _ = _channel.WriteAndFlushAsync(buffer);
        }
        else
        {
            buffer.Release();
            foreach (var envelope in frames)
            {
                _ = _channel.WriteAsync(envelope);
            }

            _channel.Flush();
        }
    }
}
