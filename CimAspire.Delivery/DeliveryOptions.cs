using System.ComponentModel.DataAnnotations;

namespace CimAspire.Delivery;

/// <summary>Tunables of the delivery core, bound from <c>Cim:Delivery</c>.</summary>
public sealed class DeliveryOptions
{
    public const string SectionName = "Cim:Delivery";

    /// <summary>Keep at most this many messages per conversation (the oldest are trimmed on append); 0 keeps all.</summary>
    [Range(0, int.MaxValue)]
    public int RetentionMaxMessages { get; set; } = 100_000;

    /// <summary>Drop messages older than this (trimmed on append, never returned by reads); null keeps them forever.</summary>
    public TimeSpan? RetentionMaxAge { get; set; }

    /// <summary>A pushed message the recipient's connection has not acknowledged within this time is pushed again.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "01:00:00")]
    public TimeSpan RedeliveryTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The largest page a sync or history read returns, whatever the client asks for.</summary>
    [Range(1, 10_000)]
    public int MaxPageSize { get; set; } = 500;

    /// <summary>
    /// The most message bytes a sync or history page carries: the page stops before passing it (and says has_more),
    /// but always holds at least one message. Well under the 4 MiB frame and outbound limits of clients and servers.
    /// </summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int MaxPageBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// How stale a user's conversation index (its "newest activity first" order) may get: a process that wrote a
    /// conversation's entry less than this long ago skips rewriting it on the next append. 0 writes it on every append.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan ConversationIndexRefresh { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The largest message body accepted, in bytes.</summary>
    [Range(1, 16 * 1024 * 1024)]
    public int MaxBodyBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// Presence changes are pushed to every online user only while at most this many users are online (the push costs
    /// online squared); above it clients see presence through the route API. 0 turns the push off.
    /// </summary>
    [Range(0, int.MaxValue)]
    public int PresenceBroadcastMaxOnline { get; set; } = 1_000;

    /// <summary>How long presence changes are collected (and coalesced per user) before one batch goes to every server.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:00:10")]
    public TimeSpan PresenceFlushInterval { get; set; } = TimeSpan.FromMilliseconds(200);
}
