namespace CimAspire.ZooKeeper.Protocol;

/// <summary>The first frame a client sends (no RequestHeader).</summary>
internal readonly record struct ConnectRequest(long LastZxidSeen, int TimeoutMs, long SessionId, byte[] Password);

/// <summary>The first frame a server sends (no ReplyHeader). <c>TimeoutMs &lt;= 0</c> means the session is expired or unknown.</summary>
internal readonly record struct ConnectResponse(int ProtocolVersion, int TimeoutMs, long SessionId, byte[] Password, bool ReadOnly);

internal readonly record struct ReplyHeader(int Xid, long Zxid, int Error);

/// <summary>Encoders and decoders for the jute records this client uses (zookeeper.jute).</summary>
internal static class Records
{
    public const int PasswordLength = 16;

    /// <summary>Offset of the xid inside a request payload: it is the first field of the RequestHeader.</summary>
    public const int XidOffset = 0;

    private const int WorldAllPerms = 31;

    public static ReadOnlyMemory<byte> ConnectRequestFrame(ConnectRequest request)
    {
        var writer = new JuteWriter(64);
        writer.WriteInt(0); // protocolVersion
        writer.WriteLong(request.LastZxidSeen);
        writer.WriteInt(request.TimeoutMs);
        writer.WriteLong(request.SessionId);
        writer.WriteBuffer(request.Password);
        writer.WriteBool(false); // readOnly: we never want a read-only server
        return writer.ToFrame();
    }

    public static ConnectResponse ReadConnectResponse(ReadOnlySpan<byte> payload)
    {
        var reader = new JuteReader(payload);
        var version = reader.ReadInt();
        var timeout = reader.ReadInt();
        var sessionId = reader.ReadLong();
        var password = reader.ReadBuffer() ?? [];
        // The readOnly byte is present only when the request carried it; read it when it is there.
        var readOnly = reader.Remaining > 0 && reader.ReadBool();
        return new ConnectResponse(version, timeout, sessionId, password, readOnly);
    }

    public static JuteWriter Request(OpCode op, int xid = 0)
    {
        var writer = new JuteWriter();
        writer.WriteInt(xid);
        writer.WriteInt((int)op);
        return writer;
    }

    public static ReadOnlyMemory<byte> PingFrame()
    {
        return Request(OpCode.Ping, Xids.Ping).ToFrame();
    }

    public static JuteWriter Create(string path, ReadOnlySpan<byte> data, CreateMode mode)
    {
        var writer = Request(OpCode.Create2);
        writer.WriteString(path);
        writer.WriteBuffer(data);
        WriteOpenAclUnsafe(writer);
        writer.WriteInt((int)mode);
        return writer;
    }

    /// <summary>OPEN_ACL_UNSAFE: one ACL, all permissions for world:anyone (an empty ACL is rejected with InvalidAcl).</summary>
    public static void WriteOpenAclUnsafe(JuteWriter writer)
    {
        writer.WriteInt(1);
        writer.WriteInt(WorldAllPerms);
        writer.WriteString("world");
        writer.WriteString("anyone");
    }

    public static JuteWriter Delete(string path, int version)
    {
        var writer = Request(OpCode.Delete);
        writer.WriteString(path);
        writer.WriteInt(version);
        return writer;
    }

    /// <summary>exists, getData and getChildren2 share the layout { path, watch }.</summary>
    public static JuteWriter PathAndWatch(OpCode op, string path, bool watch)
    {
        var writer = Request(op);
        writer.WriteString(path);
        writer.WriteBool(watch);
        return writer;
    }

    public static JuteWriter SetData(string path, ReadOnlySpan<byte> data, int version)
    {
        var writer = Request(OpCode.SetData);
        writer.WriteString(path);
        writer.WriteBuffer(data);
        writer.WriteInt(version);
        return writer;
    }

    public static JuteWriter SetWatches(long relativeZxid, IReadOnlyCollection<string> data, IReadOnlyCollection<string> exist, IReadOnlyCollection<string> child)
    {
        var writer = Request(OpCode.SetWatches);
        writer.WriteLong(relativeZxid);
        writer.WriteStringVector(data);
        writer.WriteStringVector(exist);
        writer.WriteStringVector(child);
        return writer;
    }

    public static JuteWriter CloseSession()
    {
        return Request(OpCode.CloseSession);
    }

    public static ReplyHeader ReadReplyHeader(ref JuteReader reader)
    {
        return new ReplyHeader(reader.ReadInt(), reader.ReadLong(), reader.ReadInt());
    }

    public static ZNodeStat ReadStat(ref JuteReader reader)
    {
        return new ZNodeStat(
            Czxid: reader.ReadLong(),
            Mzxid: reader.ReadLong(),
            Ctime: reader.ReadLong(),
            Mtime: reader.ReadLong(),
            Version: reader.ReadInt(),
            Cversion: reader.ReadInt(),
            Aversion: reader.ReadInt(),
            EphemeralOwner: reader.ReadLong(),
            DataLength: reader.ReadInt(),
            NumChildren: reader.ReadInt(),
            Pzxid: reader.ReadLong());
    }

    /// <summary>Create2Response { path; stat }.</summary>
    public static (string Path, ZNodeStat Stat) ReadCreate2Response(ref JuteReader reader)
    {
        var path = reader.ReadString() ?? throw new ZooKeeperProtocolException("create2 reply has a null path.");
        return (path, ReadStat(ref reader));
    }

    /// <summary>GetDataResponse { data; stat }.</summary>
    public static ZNodeData ReadGetDataResponse(ref JuteReader reader)
    {
        var data = reader.ReadBuffer() ?? [];
        return new ZNodeData(data, ReadStat(ref reader));
    }

    /// <summary>GetChildren2Response { children; stat }.</summary>
    public static (List<string> Children, ZNodeStat Stat) ReadGetChildren2Response(ref JuteReader reader)
    {
        var children = reader.ReadStringVector() ?? [];
        return (children, ReadStat(ref reader));
    }

    /// <summary>WatcherEvent { type; state; path } (the body of an xid -1 notification).</summary>
    public static (int Type, int State, string Path) ReadWatcherEvent(ref JuteReader reader)
    {
        var type = reader.ReadInt();
        var state = reader.ReadInt();
        var path = reader.ReadString() ?? throw new ZooKeeperProtocolException("A watch notification has a null path.");
        return (type, state, path);
    }
}
