using System.Net;
using CimAspire.ImServer.Sessions;
using CimAspire.Protocol;
using DotNetty.Transport.Channels;

namespace CimAspire.ImServer.Transport;

/// <summary>
/// The DotNetty channel behind <see cref="IConnectionTransport"/>. Frames sent from any thread are queued, and one task
/// on the channel's event loop writes everything queued so far and flushes once: a burst of frames costs one hop to the
/// loop and one system call, and a frame is never left behind a flush that already ran.
/// </summary>
public sealed class NettyConnectionTransport : IConnectionTransport
{
    private readonly IChannel _channel;
    private readonly Lock _gate = new();
    private readonly Action _drain;
    // Frames waiting for the next drain; null while none are (an idle connection holds no queue).
    private List<Envelope>? _outbound;

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
            (_outbound ??= []).Add(envelope);
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

        foreach (var envelope in frames)
        {
            _ = _channel.WriteAsync(envelope);
        }

        _channel.Flush();
    }
}
