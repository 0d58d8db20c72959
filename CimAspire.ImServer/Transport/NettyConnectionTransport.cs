using System.Net;
using CimAspire.ImServer.Sessions;
using CimAspire.Protocol;
using DotNetty.Transport.Channels;

namespace CimAspire.ImServer.Transport;

/// <summary>
/// The DotNetty channel behind <see cref="IConnectionTransport"/>. Writes from any thread go through the channel's
/// event loop, and one flush is queued there for a burst of them, so a burst of frames costs one system call.
/// </summary>
public sealed class NettyConnectionTransport(IChannel channel) : IConnectionTransport
{
    private int _flushScheduled;

    public string Id { get; } = channel.Id.AsShortText();

    public string RemoteAddress { get; } = channel.RemoteAddress is IPEndPoint ip ? ip.ToString() : channel.RemoteAddress?.ToString() ?? "?";

    public void Send(Envelope envelope)
    {
        if (!channel.Active)
        {
            return;
        }

        if (channel.EventLoop.InEventLoop)
        {
            WriteAndScheduleFlush(envelope);
        }
        else
        {
            // Write from inside the loop: a write queued from another thread could land behind a flush that is already
            // queued, and then stay unflushed (a reply lost until the next flush).
            channel.EventLoop.Execute(() => WriteAndScheduleFlush(envelope));
        }
    }

    private void WriteAndScheduleFlush(Envelope envelope)
    {
        _ = channel.WriteAsync(envelope);
        ScheduleFlush();
    }

    public void SendAndClose(Envelope envelope)
    {
        if (!channel.Active)
        {
            return;
        }

        channel.WriteAndFlushAsync(envelope).ContinueWith(_ => channel.CloseAsync(), TaskScheduler.Default);
    }

    public void Abort() => _ = channel.CloseAsync();

    /// <summary>Runs on the event loop: a flush queued now runs after the write just made.</summary>
    private void ScheduleFlush()
    {
        if (Interlocked.Exchange(ref _flushScheduled, 1) == 0)
        {
            channel.EventLoop.Execute(() =>
            {
                Volatile.Write(ref _flushScheduled, 0);
                channel.Flush();
            });
        }
    }
}
