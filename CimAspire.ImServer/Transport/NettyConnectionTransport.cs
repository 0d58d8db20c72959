using System.Net;
using CimAspire.ImServer.Sessions;
using CimAspire.Protocol;
using DotNetty.Transport.Channels;

namespace CimAspire.ImServer.Transport;

/// <summary>
/// The DotNetty channel behind <see cref="IConnectionTransport"/>. Writes from any thread are queued and one flush
/// is scheduled on the channel's event loop for all of them, so a burst of frames costs one system call.
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
