using System.Diagnostics;
using DotNetty.Transport.Channels;

namespace CimAspire.ImServer.Transport;

/// <summary>Raised on the pipeline when nothing was read for the idle timeout.</summary>
public sealed class ReadIdleEvent
{
    public static readonly ReadIdleEvent Instance = new();

    private ReadIdleEvent()
    {
    }
}

/// <summary>
/// Fires <see cref="ReadIdleEvent"/> when a connection sent nothing (not even a ping) for the timeout, counting from
/// when it opened, so connections that never send anything are caught too. (DotNetty 0.7.6's IdleStateHandler fired far
/// too early with sub-minute TimeSpan timeouts in our tests, so the check is done here on the channel's event loop.)
/// </summary>
public sealed class ReadIdleHandler(TimeSpan timeout) : ChannelHandlerAdapter
{
    private long _lastRead;
    private bool _fired;

    public override void ChannelActive(IChannelHandlerContext context)
    {
        _lastRead = Stopwatch.GetTimestamp();
        Schedule(context, timeout);
        base.ChannelActive(context);
    }

    public override void ChannelRead(IChannelHandlerContext context, object message)
    {
        _lastRead = Stopwatch.GetTimestamp();
        context.FireChannelRead(message);
    }

    private void Schedule(IChannelHandlerContext context, TimeSpan delay)
        => context.Channel.EventLoop.Schedule(() => Check(context), delay);

    private void Check(IChannelHandlerContext context)
    {
        if (!context.Channel.Active || _fired)
        {
            return;
        }

        var idle = Stopwatch.GetElapsedTime(_lastRead);
        if (idle >= timeout)
        {
            _fired = true;
            context.FireUserEventTriggered(ReadIdleEvent.Instance);
            return;
        }

        Schedule(context, timeout - idle);
    }
}
