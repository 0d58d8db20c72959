using System.ComponentModel.DataAnnotations;

namespace CimAspire.ImServer;

public enum DuplicateLoginPolicy
{
    /// <summary>The new login wins; the older connections of the user get Kick(REPLACED).</summary>
    KickOld,
    /// <summary>The new login is refused while the user is online anywhere (CIM's behaviour).</summary>
    RejectNew,
    /// <summary>Several connections (devices) per user, on any servers.</summary>
    AllowMultiple,
}

/// <summary>The IM server's settings, bound from <c>Cim:ImServer</c>.</summary>
public sealed class ImServerOptions
{
    public const string SectionName = "Cim:ImServer";

    /// <summary>The server id; empty picks a new unique one per run.</summary>
    public string? Id { get; set; }

    [Required]
    public string BindAddress { get; set; } = "0.0.0.0";

    /// <summary>TCP port; 0 lets the OS pick a free one (the advertised port is the one really bound).</summary>
    [Range(0, 65535)]
    public int Port { get; set; }

    /// <summary>The host clients are told to connect to (registry node, token routing).</summary>
    [Required]
    public string AdvertisedHost { get; set; } = "127.0.0.1";

    public DuplicateLoginPolicy DuplicateLogin { get; set; } = DuplicateLoginPolicy.KickOld;

    /// <summary>Clients ping when they wrote nothing for this long.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "01:00:00")]
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A connection that sent nothing (not even a ping) for this long is closed with IDLE_TIMEOUT.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "02:00:00")]
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>A connection must log in within this time.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan LoginTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The largest frame (length prefix value) accepted, in bytes.</summary>
    [Range(64, 64 * 1024 * 1024)]
    public int MaxFrameBytes { get; set; } = 256 * 1024;

    /// <summary>Outbound bytes queued for one connection above which it is dropped as a slow consumer.</summary>
    [Range(1024, 1024 * 1024 * 1024)]
    public int MaxPendingOutboundBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Sustained sends per second per user on this server (token bucket refill rate).</summary>
    [Range(0.1, 1_000_000)]
    public double SendRatePerSecond { get; set; } = 50;

    /// <summary>Sends a user may make in a burst (token bucket size).</summary>
    [Range(1, 1_000_000)]
    public int SendBurst { get; set; } = 100;

    /// <summary>Pushed but unacknowledged messages remembered per connection for redelivery.</summary>
    [Range(1, 1_000_000)]
    public int MaxPendingDeliveries { get; set; } = 2_000;

    /// <summary>How often the connection count is published for the least-connections strategy.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00")]
    public TimeSpan LoadReportInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a graceful stop waits for clients to go after the drain notice.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How often the server checks that Redis still records a route for every user it holds, and claims again the ones
    /// it lost (the route API removed them after a registry session expiry, or Redis lost them). Also done at once when
    /// the registration is restored.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan RouteAuditInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest window over which clients told to sync at once (SyncHint) spread their syncs.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan SyncHintMaxSpread { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Event loop threads for connections; 0 uses the processor count.</summary>
    [Range(0, 256)]
    public int WorkerThreads { get; set; }
}

/// <summary>The shared token key (<c>Cim:TokenKey</c>), the same the route API signs with.</summary>
public sealed class TokenOptions
{
    public const string SectionName = "Cim";

    [Required]
    [MinLength(16)]
    public string TokenKey { get; set; } = string.Empty;
}
