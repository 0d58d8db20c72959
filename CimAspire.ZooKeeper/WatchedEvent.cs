namespace CimAspire.ZooKeeper;

/// <summary>What fired a one-shot watch (Watcher.Event.EventType).</summary>
public enum WatchEventType
{
    NodeCreated = 1,
    NodeDeleted = 2,
    NodeDataChanged = 3,
    NodeChildrenChanged = 4,
}

/// <summary>A fired watch: its type and the client path (chroot removed).</summary>
public sealed record WatchedEvent(WatchEventType Type, string Path);

/// <summary>The client's connection state.</summary>
public enum ZooKeeperConnectionState
{
    /// <summary>Not connected yet, or the connection was lost; the session may still be alive and is being resumed.</summary>
    Disconnected,

    /// <summary>Connected with a live session; requests are served.</summary>
    Connected,

    /// <summary>The session expired: its ephemeral nodes and watches are gone. The client opens a new session next.</summary>
    Expired,

    /// <summary>Closed by its owner; it will not reconnect.</summary>
    Closed,
}

/// <summary>A state change of the client.</summary>
/// <param name="State">The new state.</param>
/// <param name="SessionId">The session id in effect (0 when there is none).</param>
/// <param name="IsNewSession">
/// True on the first <see cref="ZooKeeperConnectionState.Connected"/> of a session (the first connection, or after an expiry):
/// owners re-create their ephemeral nodes and watches then.
/// </param>
/// <param name="Reason">Why the state changed, for logs (e.g. the connection error).</param>
public sealed record ZooKeeperStateChange(ZooKeeperConnectionState State, long SessionId, bool IsNewSession, string? Reason);
