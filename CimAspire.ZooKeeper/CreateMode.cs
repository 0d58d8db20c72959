namespace CimAspire.ZooKeeper;

/// <summary>How a node is created (CreateMode flags on the wire).</summary>
public enum CreateMode
{
    /// <summary>Stays until deleted.</summary>
    Persistent = 0,

    /// <summary>Deleted when the session that created it ends (closed or expired).</summary>
    Ephemeral = 1,

    /// <summary>Persistent, with a 10-digit counter appended to the name by the server.</summary>
    PersistentSequential = 2,

    /// <summary>Ephemeral, with a 10-digit counter appended to the name by the server.</summary>
    EphemeralSequential = 3,
}
