using Microsoft.Extensions.Logging;

namespace CimAspire.ZooKeeper.Registry;

internal static partial class Log
{
    [LoggerMessage(101, LogLevel.Information, "Registered IM server {ServerId} at {Path} (session 0x{SessionId:x})")]
    public static partial void Registered(ILogger logger, string serverId, string path, long sessionId);

    [LoggerMessage(102, LogLevel.Warning, "Registering IM server {ServerId} failed; retrying")]
    public static partial void RegisterFailed(ILogger logger, string serverId, Exception exception);

    [LoggerMessage(103, LogLevel.Warning, "Removing the stale registry node {Path} owned by session 0x{Owner:x}")]
    public static partial void RemovingStale(ILogger logger, string path, long owner);

    [LoggerMessage(104, LogLevel.Information, "Deregistered IM server {ServerId} from {Path}")]
    public static partial void Deregistered(ILogger logger, string serverId, string path);

    [LoggerMessage(105, LogLevel.Warning, "Deregistering IM server {ServerId} failed; its node goes when the session ends")]
    public static partial void DeregisterFailed(ILogger logger, string serverId, Exception exception);

    [LoggerMessage(106, LogLevel.Warning, "Refreshing the server directory under {Root} failed; retrying")]
    public static partial void RefreshFailed(ILogger logger, string root, Exception exception);

    [LoggerMessage(107, LogLevel.Warning, "Ignoring the registry node {Path}: {Error}")]
    public static partial void InvalidRegistration(ILogger logger, string path, string? error);

    [LoggerMessage(108, LogLevel.Information, "Server directory under {Root}: {Count} servers ({Joined} joined, {Left} left)")]
    public static partial void DirectoryChanged(ILogger logger, string root, int count, int joined, int left);

    [LoggerMessage(109, LogLevel.Error, "A server directory Changed handler threw")]
    public static partial void ChangedHandlerFailed(ILogger logger, Exception exception);

    [LoggerMessage(110, LogLevel.Warning, "IM server {ServerId} had lost its registration; it is registered again at {Path}")]
    public static partial void RegistrationRestored(ILogger logger, string serverId, string path);

    [LoggerMessage(111, LogLevel.Error, "A RegistrationRestored handler threw")]
    public static partial void RestoredHandlerFailed(ILogger logger, Exception exception);
}
