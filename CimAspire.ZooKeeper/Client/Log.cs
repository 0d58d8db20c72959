using Microsoft.Extensions.Logging;

namespace CimAspire.ZooKeeper.Client;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Debug, "Connecting to ZooKeeper {Host}:{Port} (session 0x{SessionId:x})")]
    public static partial void Connecting(ILogger logger, string host, int port, long sessionId);

    [LoggerMessage(2, LogLevel.Information, "Connected to ZooKeeper {Host}:{Port}, session 0x{SessionId:x}, negotiated timeout {TimeoutMs} ms, new session {NewSession}")]
    public static partial void Connected(ILogger logger, string host, int port, long sessionId, int timeoutMs, bool newSession);

    [LoggerMessage(3, LogLevel.Warning, "Could not connect to ZooKeeper {Host}:{Port}")]
    public static partial void ConnectFailed(ILogger logger, string host, int port, Exception exception);

    [LoggerMessage(4, LogLevel.Warning, "Lost the connection to ZooKeeper {Host}:{Port} (session 0x{SessionId:x})")]
    public static partial void ConnectionLost(ILogger logger, string host, int port, long sessionId, Exception exception);

    [LoggerMessage(5, LogLevel.Warning, "ZooKeeper session 0x{SessionId:x} expired: {Reason}")]
    public static partial void SessionExpired(ILogger logger, long sessionId, string reason);

    [LoggerMessage(6, LogLevel.Error, "A ZooKeeper watcher or state handler threw")]
    public static partial void CallbackFailed(ILogger logger, Exception exception);

    [LoggerMessage(7, LogLevel.Information, "Closed ZooKeeper session 0x{SessionId:x}")]
    public static partial void Closed(ILogger logger, long sessionId);

    [LoggerMessage(8, LogLevel.Warning, "Restoring watches on ZooKeeper {Host}:{Port} failed")]
    public static partial void SetWatchesFailed(ILogger logger, string host, int port, Exception exception);

    [LoggerMessage(9, LogLevel.Warning, "Closing ZooKeeper session 0x{SessionId:x} gracefully failed; the server will expire it")]
    public static partial void CloseSessionFailed(ILogger logger, long sessionId, Exception exception);
}
