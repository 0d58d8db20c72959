namespace CimAspire.ZooKeeper;

/// <summary>The Stat record of a node (68 bytes on the wire).</summary>
/// <param name="Czxid">The zxid that created the node.</param>
/// <param name="Mzxid">The zxid of the last data change.</param>
/// <param name="Ctime">Creation time, ms since the Unix epoch.</param>
/// <param name="Mtime">Last modification time, ms since the Unix epoch.</param>
/// <param name="Version">Number of data changes (use it for conditional setData/delete).</param>
/// <param name="Cversion">Number of child changes.</param>
/// <param name="Aversion">Number of ACL changes.</param>
/// <param name="EphemeralOwner">The owning session id for an ephemeral node, otherwise 0.</param>
/// <param name="DataLength">Length of the data.</param>
/// <param name="NumChildren">Number of children.</param>
/// <param name="Pzxid">The zxid of the last change to the children.</param>
public sealed record ZNodeStat(
    long Czxid,
    long Mzxid,
    long Ctime,
    long Mtime,
    int Version,
    int Cversion,
    int Aversion,
    long EphemeralOwner,
    int DataLength,
    int NumChildren,
    long Pzxid);

/// <summary>A node's data and its Stat.</summary>
public sealed record ZNodeData(byte[] Data, ZNodeStat Stat);
