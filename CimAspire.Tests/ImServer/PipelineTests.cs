using CimAspire.ImServer.Transport;
using CimAspire.Protocol;
using DotNetty.Buffers;
using DotNetty.Codecs;
using DotNetty.Transport.Channels.Embedded;
using Google.Protobuf;

namespace CimAspire.Tests.ImServer;

/// <summary>The framing and envelope codec, without sockets.</summary>
public sealed class PipelineTests
{
    private static EmbeddedChannel NewChannel(int maxFrameBytes = 1024)
        => new(new VarintFrameDecoder(maxFrameBytes), new EnvelopeDecoder(), new EnvelopeEncoder());

    private static Envelope Ping(ulong id) => new() { RequestId = id, Ping = new Ping { ClientTimeMs = (long)id } };

    [Fact]
    public void FramesSplitAndCoalescedAnyHowDecodeToTheSameEnvelopes()
    {
        var channel = NewChannel();
        var bytes = Enumerable.Range(1, 20).SelectMany(i => TestClient.Frame(Ping((ulong)i))).ToArray();
        var random = new Random(7);
        var offset = 0;
        while (offset < bytes.Length)
        {
            var size = Math.Min(random.Next(1, 9), bytes.Length - offset);
            channel.WriteInbound(Unpooled.WrappedBuffer(bytes, offset, size));
            offset += size;
        }

        var decoded = new List<Envelope>();
        while (channel.ReadInbound<Envelope>() is { } envelope)
        {
            decoded.Add(envelope);
        }

        Assert.Equal(Enumerable.Range(1, 20).Select(i => (ulong)i), decoded.Select(e => e.RequestId));
        Assert.False(channel.Finish());
    }

    [Fact]
    public void AFrameAboveTheLimitIsRefusedBeforeItsBodyArrives()
    {
        var channel = NewChannel(maxFrameBytes: 100);
        var prefix = new byte[5];
        var output = new CodedOutputStream(prefix);
        output.WriteUInt32(10_000_000);
        output.Flush();

        var error = Assert.ThrowsAny<DecoderException>(() => channel.WriteInbound(Unpooled.WrappedBuffer(prefix, 0, CodedOutputStream.ComputeUInt32Size(10_000_000))));
        Assert.Equal(ErrorCode.FrameTooLarge, Assert.IsType<ProtocolViolationException>(error.InnerException ?? error).Code);
    }

    [Fact]
    public void AnOverlongVarintIsAMalformedFrame()
    {
        var channel = NewChannel();
        var error = Assert.ThrowsAny<DecoderException>(() => channel.WriteInbound(Unpooled.WrappedBuffer([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])));
        Assert.Equal(ErrorCode.MalformedFrame, Assert.IsType<ProtocolViolationException>(error.InnerException ?? error).Code);
    }

    [Fact]
    public void BytesThatAreNotAnEnvelopeAreAMalformedFrame()
    {
        var channel = NewChannel();
        // Length 3, then a field with wire type 7 (invalid).
        var error = Assert.ThrowsAny<DecoderException>(() => channel.WriteInbound(Unpooled.WrappedBuffer([0x03, 0x0F, 0x01, 0x02])));
        Assert.Equal(ErrorCode.MalformedFrame, Assert.IsType<ProtocolViolationException>(error.InnerException ?? error).Code);
    }

    [Fact]
    public void AnEnvelopeWithoutABodyIsAMalformedFrame()
    {
        var channel = NewChannel();
        var error = Assert.ThrowsAny<DecoderException>(() => channel.WriteInbound(Unpooled.WrappedBuffer(TestClient.Frame(new Envelope { RequestId = 5 }))));
        Assert.Equal(ErrorCode.MalformedFrame, Assert.IsType<ProtocolViolationException>(error.InnerException ?? error).Code);
    }

    [Fact]
    public void TheEncoderWritesTheSameFramingClientsRead()
    {
        var channel = NewChannel();
        var envelope = new Envelope { RequestId = 9, Deliver = new Deliver { Message = new ChatMessage { Seq = 3, Body = ByteString.CopyFrom(new byte[300]) } } };

        Assert.True(channel.WriteOutbound(envelope));
        var buffer = channel.ReadOutbound<IByteBuffer>();
        var bytes = new byte[buffer.ReadableBytes];
        buffer.ReadBytes(bytes);
        buffer.Release();

        Assert.Equal(TestClient.Frame(envelope), bytes);
    }
}
