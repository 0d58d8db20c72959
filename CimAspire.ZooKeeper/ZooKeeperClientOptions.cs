using System.ComponentModel.DataAnnotations;

namespace CimAspire.ZooKeeper;

/// <summary>Settings of a <see cref="ZooKeeperClient"/> (configuration section <c>Cim:ZooKeeper</c>).</summary>
public sealed class ZooKeeperClientOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string SectionName = "Cim:ZooKeeper";

    /// <summary><c>host:port[,host:port...][/chroot]</c>; under Aspire it comes from <c>ConnectionStrings:&lt;name&gt;</c>.</summary>
    [Required]
    public string ConnectionString { get; set; } = "";

    /// <summary>The session timeout asked for; the server clamps it to [2, 20] ticks. Timers use the negotiated value.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan SessionTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The largest frame accepted from a server; a bigger length prefix closes the connection.</summary>
    [Range(1024, 256 * 1024 * 1024)]
    public int MaxFrameBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>The longest pause between reconnect attempts (each attempt waits a random part of it; a full cycle of hosts waits all of it).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);
}
