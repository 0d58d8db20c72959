using CimAspire.ZooKeeper;
using CimAspire.ZooKeeper.Protocol;

namespace CimAspire.Tests.ZooKeeper;

/// <summary>Every record the client encodes or decodes, against the byte-exact frames verified on a ZooKeeper 3.8 server.</summary>
public class JuteCodecTests
{
    private static readonly byte[] Node1 = "/im/node-1"u8.ToArray();

    [Fact]
    public void Ping_matches_the_golden_frame()
    {
        Assert.Equal(Hex("00000008 fffffffe 0000000b"), Records.PingFrame().ToArray());
    }

    [Fact]
    public void CloseSession_matches_the_golden_frame()
    {
        Assert.Equal(Hex("00000008 00000005 fffffff5"), WithXid(Records.CloseSession(), 5));
    }

    [Fact]
    public void Create2_ephemeral_with_open_acl_matches_the_golden_frame()
    {
        var frame = WithXid(Records.Create("/im/node-1", "10.0.0.5:9000"u8, CreateMode.Ephemeral), 1);
        Assert.Equal(Hex("00000046 00000001 0000000f 0000000a 2f696d2f6e6f64652d31 0000000d 31302e302e302e353a39303030"
            + "00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65 00000001"), frame);
    }

    [Fact]
    public void Open_acl_unsafe_vector_matches_the_golden_bytes()
    {
        var writer = new JuteWriter();
        Records.WriteOpenAclUnsafe(writer);
        Assert.Equal(Hex("00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65"), writer.ToFrame()[4..].ToArray());
    }

    [Fact]
    public void GetChildren2_exists_and_getData_match_the_golden_frames()
    {
        Assert.Equal(Hex("00000010 00000002 0000000c 00000003 2f696d 01"), WithXid(Records.PathAndWatch(OpCode.GetChildren2, "/im", true), 2));
        Assert.Equal(Hex("00000010 00000003 00000003 00000003 2f696d 01"), WithXid(Records.PathAndWatch(OpCode.Exists, "/im", true), 3));
        Assert.Equal(Hex("00000017 00000004 00000004 0000000a 2f696d2f6e6f64652d31 00"), WithXid(Records.PathAndWatch(OpCode.GetData, "/im/node-1", false), 4));
    }

    [Fact]
    public void Delete_and_setData_match_the_golden_frames()
    {
        Assert.Equal(Hex("0000001a 00000005 00000002 0000000a 2f696d2f6e6f64652d31 ffffffff"), WithXid(Records.Delete("/im/node-1", -1), 5));
        Assert.Equal(Hex("0000001f 00000006 00000005 0000000a 2f696d2f6e6f64652d31 00000001 78 ffffffff"), WithXid(Records.SetData("/im/node-1", "x"u8, -1), 6));
    }

    [Fact]
    public void SetWatches_matches_the_golden_frame()
    {
        var frame = WithXid(Records.SetWatches(0x10, [], [], ["/im"]), 8);
        Assert.Equal(Hex("00000023 00000008 00000065 0000000000000010 00000000 00000000 00000001 00000003 2f696d"), frame);
    }

    [Fact]
    public void ConnectRequest_for_a_new_session_matches_the_golden_frame()
    {
        var frame = Records.ConnectRequestFrame(new ConnectRequest(0, 30000, 0, new byte[16])).ToArray();
        Assert.Equal(49, frame.Length);
        Assert.Equal(Hex("0000002d 00000000 0000000000000000 00007530 0000000000000000 00000010 00000000000000000000000000000000 00"), frame);
    }

    [Fact]
    public void ConnectRequest_for_a_resumed_session_carries_zxid_id_and_password()
    {
        var password = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();
        var frame = Records.ConnectRequestFrame(new ConnectRequest(0x1234, 4000, 0x0100_0005_c505_0003, password)).ToArray();
        Assert.Equal(Hex("0000002d 00000000 0000000000001234 00000fa0 01000005c5050003 00000010 0102030405060708090a0b0c0d0e0f10 00"), frame);
    }

    [Fact]
    public void ConnectResponse_decodes_with_and_without_the_readOnly_byte()
    {
        var password = "00112233445566778899aabbccddeeff";
        var withFlag = Records.ReadConnectResponse(Hex($"00000000 00000fa0 01000005c5050003 00000010 {password} 00"));
        Assert.Equal(4000, withFlag.TimeoutMs);
        Assert.Equal(0x0100_0005_c505_0003, withFlag.SessionId);
        Assert.Equal(Hex(password), withFlag.Password);
        Assert.False(withFlag.ReadOnly);

        var withoutFlag = Records.ReadConnectResponse(Hex($"00000000 00000fa0 01000005c5050003 00000010 {password}"));
        Assert.Equal(withFlag.SessionId, withoutFlag.SessionId);

        var expired = Records.ReadConnectResponse(Hex("00000000 00000000 0000000000000000 00000010 00000000000000000000000000000000 00"));
        Assert.Equal(0, expired.TimeoutMs);
        Assert.Equal(0, expired.SessionId);
    }

    [Fact]
    public void Reply_header_stat_and_create2_response_decode()
    {
        var reader = new JuteReader(Hex("00000001 0000000000000011 00000000 0000000a 2f696d2f6e6f64652d31" + StatHex));
        var header = Records.ReadReplyHeader(ref reader);
        Assert.Equal(new ReplyHeader(1, 0x11, 0), header);
        var (path, stat) = Records.ReadCreate2Response(ref reader);
        Assert.Equal("/im/node-1", path);
        AssertStat(stat);
        Assert.Equal(0, reader.Remaining);
    }

    [Fact]
    public void Error_reply_header_has_no_body()
    {
        var reader = new JuteReader(Hex("00000003 0000000000000012 ffffff9b"));
        var header = Records.ReadReplyHeader(ref reader);
        Assert.Equal((int)ZooKeeperErrorCode.NoNode, header.Error);
        Assert.Equal(0, reader.Remaining);
    }

    [Fact]
    public void GetData_and_getChildren2_responses_decode()
    {
        var data = new JuteReader(Hex("00000001 78" + StatHex));
        var node = Records.ReadGetDataResponse(ref data);
        Assert.Equal("x"u8.ToArray(), node.Data);
        AssertStat(node.Stat);

        var children = new JuteReader(Hex("00000002 00000006 6e6f64652d31 00000006 6e6f64652d32" + StatHex));
        var (names, parent) = Records.ReadGetChildren2Response(ref children);
        Assert.Equal(["node-1", "node-2"], names);
        AssertStat(parent);

        var nullData = new JuteReader(Hex("ffffffff" + StatHex));
        Assert.Empty(Records.ReadGetDataResponse(ref nullData).Data);
    }

    [Fact]
    public void Watcher_event_notification_decodes()
    {
        // The 32-byte notification frame for /svc: xid -1, zxid -1 (3.8), err 0, NodeChildrenChanged, SyncConnected.
        var payload = Hex("ffffffff ffffffffffffffff 00000000 00000004 00000003 00000004 2f737663");
        Assert.Equal(32, payload.Length);
        var reader = new JuteReader(payload);
        Assert.Equal(-1, Records.ReadReplyHeader(ref reader).Xid);
        Assert.Equal((4, 3, "/svc"), Records.ReadWatcherEvent(ref reader));
    }

    [Theory]
    [InlineData("00000005 6162")] // string longer than the frame
    [InlineData("fffffffe")] // length below -1
    [InlineData("0000")] // truncated int
    public void Malformed_strings_throw_a_protocol_error(string hex)
    {
        var bytes = Hex(hex);
        Assert.Throws<ZooKeeperProtocolException>(() =>
        {
            var reader = new JuteReader(bytes);
            reader.ReadString();
        });
    }

    [Fact]
    public void A_vector_count_larger_than_the_frame_throws_before_allocating()
    {
        var bytes = Hex("7fffffff 00000001 61");
        Assert.Throws<ZooKeeperProtocolException>(() =>
        {
            var reader = new JuteReader(bytes);
            reader.ReadStringVector();
        });
    }

    [Fact]
    public void Null_and_empty_strings_are_distinct()
    {
        var writer = new JuteWriter();
        writer.WriteString(null);
        writer.WriteString("");
        Assert.Equal(Hex("ffffffff 00000000"), writer.ToFrame()[4..].ToArray());
    }

    private const string StatHex =
        "0000000000000011 0000000000000012 0000018c00000001 0000018c00000002 00000003 00000004 00000005 01000005c5050003 00000001 00000002 0000000000000013";

    private static void AssertStat(ZNodeStat stat)
    {
        Assert.Equal(new ZNodeStat(0x11, 0x12, 0x18c00000001, 0x18c00000002, 3, 4, 5, 0x0100_0005_c505_0003, 1, 2, 0x13), stat);
    }

    private static byte[] WithXid(JuteWriter writer, int xid)
    {
        writer.PatchInt(Records.XidOffset, xid);
        return writer.ToFrame().ToArray();
    }

    private static byte[] Hex(string hex)
    {
        return Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));
    }
}
