namespace CimAspire.Client;

/// <summary>Where a <see cref="CimClient"/> stands with its IM server.</summary>
public enum ConnectionState
{
    /// <summary>Not logged in, or quit: nothing will reconnect.</summary>
    Offline,

    /// <summary>Logging in through the route API and connecting for the first time.</summary>
    Connecting,

    /// <summary>Connected, logged in and synced.</summary>
    Online,

    /// <summary>The connection was lost or the server drains; logging in again with the token.</summary>
    Reconnecting,

    /// <summary>Reconnecting gave up (attempts exhausted or the route API refused the token).</summary>
    Failed,
}
