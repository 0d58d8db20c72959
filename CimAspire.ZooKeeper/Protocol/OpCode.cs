namespace CimAspire.ZooKeeper.Protocol;

/// <summary>The request types this client sends (ZooDefs.OpCode).</summary>
internal enum OpCode
{
    Delete = 2,
    Exists = 3,
    GetData = 4,
    SetData = 5,
    Ping = 11,
    GetChildren2 = 12,
    Create2 = 15,
    SetWatches = 101,
    CloseSession = -11,
}

/// <summary>Reserved xids (ClientCnxn): replies with these are not matched against the pending FIFO.</summary>
internal static class Xids
{
    public const int Notification = -1;
    public const int Ping = -2;
    public const int Auth = -4;
}
