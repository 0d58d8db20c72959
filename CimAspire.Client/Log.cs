using CimAspire.Protocol;
using Microsoft.Extensions.Logging;

namespace CimAspire.Client;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "User {UserName} ({UserId}) is online on {ServerId}")]
    public static partial void Online(ILogger logger, string? userName, long userId, string serverId);

    [LoggerMessage(2, LogLevel.Warning, "Connection of user {UserId} to {ServerId} lost: {Reason}")]
    public static partial void ConnectionLost(ILogger logger, long userId, string serverId, string reason);

    [LoggerMessage(3, LogLevel.Information, "User {UserId} reconnect attempt {Attempt} in {DelayMs} ms, avoiding {AvoidServerId}")]
    public static partial void ReconnectScheduled(ILogger logger, long userId, int attempt, long delayMs, string? avoidServerId);

    [LoggerMessage(4, LogLevel.Warning, "User {UserId} reconnect attempt {Attempt} failed")]
    public static partial void ReconnectAttemptFailed(ILogger logger, long userId, int attempt, Exception exception);

    [LoggerMessage(5, LogLevel.Error, "User {UserId} gave up reconnecting: {Reason}")]
    public static partial void ReconnectFailed(ILogger logger, long userId, string reason);

    [LoggerMessage(6, LogLevel.Debug, "Send {ClientMsgId} attempt {Attempt} got no ack in time")]
    public static partial void SendAttemptTimedOut(ILogger logger, string clientMsgId, int attempt);

    [LoggerMessage(7, LogLevel.Warning, "Server error {Code} for an unsolicited or late frame: {Message}")]
    public static partial void ServerError(ILogger logger, ErrorCode code, string message);

    [LoggerMessage(8, LogLevel.Warning, "User {UserId} was kicked ({Reason}): {Message}")]
    public static partial void Kicked(ILogger logger, long userId, Kick.Types.Reason reason, string message);

    [LoggerMessage(9, LogLevel.Error, "An event handler of the CimAspire client threw")]
    public static partial void HandlerFailed(ILogger logger, Exception exception);

    [LoggerMessage(10, LogLevel.Error, "Handling a frame from the IM server failed; closing the connection")]
    public static partial void FrameHandlerFailed(ILogger logger, Exception exception);

    [LoggerMessage(11, LogLevel.Warning, "Sync of {ConversationId} failed")]
    public static partial void GapSyncFailed(ILogger logger, string conversationId, Exception exception);

    [LoggerMessage(12, LogLevel.Warning, "Logout through the route API failed")]
    public static partial void LogoutFailed(ILogger logger, Exception exception);

    [LoggerMessage(13, LogLevel.Warning, "Connecting user {UserId} to {ServerId} failed")]
    public static partial void ConnectFailed(ILogger logger, long userId, string serverId, Exception exception);

    [LoggerMessage(30, LogLevel.Information, "The IM server asked for a sync ({Reason})")]
    public static partial void SyncHinted(ILogger logger, SyncHint.Types.Reason reason);

    [LoggerMessage(31, LogLevel.Warning, "The sync the IM server asked for failed; the next reconnect syncs")]
    public static partial void HintedSyncFailed(ILogger logger, Exception exception);
}
