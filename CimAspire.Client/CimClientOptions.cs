namespace CimAspire.Client;

/// <summary>How a <see cref="CimClient"/> reaches CimAspire and how patient it is.</summary>
public sealed class CimClientOptions
{
    /// <summary>Base address of the route API, e.g. <c>http://localhost:5080/</c>.</summary>
    public required Uri RouteApi { get; init; }

    /// <summary>Sent in the TCP login frame so servers can tell clients apart in logs.</summary>
    public string ClientName { get; init; } = "cimaspire-sdk";

    /// <summary>Identifies this device when a user is online on several.</summary>
    public string? DeviceId { get; init; }

    /// <summary>How long one send attempt waits for its SendAck.</summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Attempts per send (same client message id each time) before <see cref="CimSendException"/>.</summary>
    public int MaxSendAttempts { get; init; } = 5;

    /// <summary>Send DeliverAck for received messages automatically; otherwise call <see cref="CimClient.AcknowledgeAsync"/>.</summary>
    public bool AutoAcknowledge { get; init; } = true;

    /// <summary>Reconnect attempts after a lost connection before the client gives up (<see cref="ConnectionState.Failed"/>).</summary>
    public int MaxReconnectAttempts { get; init; } = 10;

    /// <summary>How long a TCP connect plus login may take.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// For a conversation this client knows nothing about (first sync, or first message seen live), fetch at most this
    /// many earlier messages after what the user already acknowledged (so a new session does not replay a busy room).
    /// </summary>
    public int InitialSyncLimit { get; init; } = 100;

    /// <summary>Messages per sync page.</summary>
    public int SyncPageSize { get; init; } = 200;

    /// <summary>How long a hole in the sequence may stay open before the client syncs to fill it.</summary>
    public TimeSpan GapSyncDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Largest frame accepted from the server.</summary>
    public int MaxFrameBytes { get; init; } = 4 * 1024 * 1024;

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(RouteApi);
        if (!RouteApi.IsAbsoluteUri)
        {
            throw new ArgumentException("RouteApi must be an absolute URI.", nameof(RouteApi));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSendAttempts, 1, nameof(MaxSendAttempts));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxReconnectAttempts, 1, nameof(MaxReconnectAttempts));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(AckTimeout, TimeSpan.Zero, nameof(AckTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ConnectTimeout, TimeSpan.Zero, nameof(ConnectTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(InitialSyncLimit, 0, nameof(InitialSyncLimit));
        ArgumentOutOfRangeException.ThrowIfLessThan(SyncPageSize, 1, nameof(SyncPageSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxFrameBytes, 1024, nameof(MaxFrameBytes));
    }
}
