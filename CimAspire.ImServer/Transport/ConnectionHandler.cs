using CimAspire.ImServer.Sessions;
using CimAspire.Protocol;
using DotNetty.Codecs;
using DotNetty.Transport.Channels;

namespace CimAspire.ImServer.Transport;

/// <summary>The last handler of a connection's pipeline: feeds frames to its <see cref="ClientConnection"/>.</summary>
public sealed partial class ConnectionHandler(ConnectionServices services, ILogger<ConnectionHandler> logger) : ChannelHandlerAdapter
{
    private ClientConnection? _connection;

    public ClientConnection? Connection => _connection;

    public override void ChannelActive(IChannelHandlerContext context)
    {
        _connection = new ClientConnection(new NettyConnectionTransport(context.Channel), services);
        var connection = _connection;
        context.Channel.EventLoop.Schedule(() =>
        {
            if (!connection.IsLoggedIn && !connection.IsClosed)
            {
                services.Telemetry.Login("timeout");
                connection.Fail(ErrorCode.NotAuthenticated, "No login within the login timeout.");
            }
        }, services.Options.LoginTimeout);
        base.ChannelActive(context);
    }

    public override void ChannelRead(IChannelHandlerContext context, object message)
    {
        if (message is Envelope envelope)
        {
            _connection?.Receive(envelope);
        }
    }

    public override void ChannelReadComplete(IChannelHandlerContext context) => context.Flush();

    public override void UserEventTriggered(IChannelHandlerContext context, object evt)
    {
        if (evt is ReadIdleEvent)
        {
            _connection?.Fail(ErrorCode.IdleTimeout, "Nothing was received within the idle timeout.");
            return;
        }

        base.UserEventTriggered(context, evt);
    }

    public override void ChannelWritabilityChanged(IChannelHandlerContext context)
    {
        if (!context.Channel.IsWritable && _connection is { } connection)
        {
            // The outbound queue passed the high water mark: the client does not read fast enough, so an error frame
            // would only queue behind the rest; drop the connection and everything queued for it.
            connection.Abort(ErrorCode.SlowConsumer, "More than the allowed outbound bytes are queued for this client.");
        }

        base.ChannelWritabilityChanged(context);
    }

    public override void ExceptionCaught(IChannelHandlerContext context, Exception exception)
    {
        var violation = exception as ProtocolViolationException ?? exception.InnerException as ProtocolViolationException;
        if (violation is not null && _connection is { } connection)
        {
            connection.Fail(violation.Code, violation.Message);
            return;
        }

        if (exception is DecoderException && _connection is { } malformed)
        {
            malformed.Fail(ErrorCode.MalformedFrame, "The frame could not be decoded.");
            return;
        }

        LogTransportError(context.Channel.Id.AsShortText(), exception);
        context.CloseAsync();
    }

    public override void ChannelInactive(IChannelHandlerContext context)
    {
        _connection?.Closed();
        base.ChannelInactive(context);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Transport error on connection {ConnectionId}")]
    private partial void LogTransportError(string connectionId, Exception exception);
}
