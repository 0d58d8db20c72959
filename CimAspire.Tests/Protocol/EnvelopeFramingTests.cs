using System.Buffers;
using CimAspire.Protocol;
using Google.Protobuf;

namespace CimAspire.Tests.Protocol;

public class EnvelopeFramingTests
{
    [Theory]
    [InlineData(0u)]
    [InlineData(127u)]
    [InlineData(128u)]
    [InlineData(300u)]
    [InlineData(2_097_151u)]
    [InlineData(uint.MaxValue)]
    public void Length_prefixes_round_trip_and_a_cut_one_is_incomplete(uint value)
    {
        var buffer = new byte[EnvelopeFraming.MaxPrefixBytes];
        var written = EnvelopeFraming.WritePrefix(buffer, value);
        Assert.Equal(CodedOutputStream.ComputeRawVarint32Size(value), written);
        Assert.True(EnvelopeFraming.TryReadPrefix(buffer.AsSpan(0, written), out var read, out var length));
        Assert.Equal(value, read);
        Assert.Equal(written, length);
        Assert.False(EnvelopeFraming.TryReadPrefix(buffer.AsSpan(0, written - 1), out _, out _));
    }

    [Fact]
    public void Written_frames_read_back_with_the_protobuf_delimited_parser()
    {
        var output = new ArrayBufferWriter<byte>();
        var first = new Envelope { RequestId = 7, Ping = new Ping { ClientTimeMs = 42 } };
        var second = new Envelope { RequestId = 8, Send = new SendRequest { ClientMsgId = "m1", Body = ByteString.CopyFrom(new byte[300]) } };
        EnvelopeFraming.Write(output, first);
        EnvelopeFraming.Write(output, second);

        using var stream = new MemoryStream(output.WrittenSpan.ToArray());
        Assert.Equal(first, Envelope.Parser.ParseDelimitedFrom(stream));
        Assert.Equal(second, Envelope.Parser.ParseDelimitedFrom(stream));
        Assert.Equal(stream.Length, stream.Position);
    }

    [Fact]
    public void Reads_frames_written_by_the_protobuf_delimited_writer_and_waits_for_partial_ones()
    {
        var envelope = new Envelope { RequestId = 3, Send = new SendRequest { ClientMsgId = "x", Body = ByteString.CopyFrom(new byte[200]) } };
        using var stream = new MemoryStream();
        envelope.WriteDelimitedTo(stream);
        envelope.WriteDelimitedTo(stream);
        var bytes = stream.ToArray();
        var single = bytes.Length / 2;

        // Every strict prefix of a frame is incomplete, including a cut inside the two-byte length prefix.
        for (var cut = 0; cut < single; cut++)
        {
            Assert.False(EnvelopeFraming.TryRead(bytes.AsSpan(0, cut), 1024, out _, out _));
        }

        Assert.True(EnvelopeFraming.TryRead(bytes, 1024, out var read, out var consumed));
        Assert.Equal(envelope, read);
        Assert.Equal(single, consumed);
        Assert.True(EnvelopeFraming.TryRead(bytes.AsSpan(consumed), 1024, out var again, out _));
        Assert.Equal(envelope, again);
    }

    [Fact]
    public void Rejects_a_frame_over_the_limit_before_it_arrives()
    {
        using var stream = new MemoryStream();
        new Envelope { Send = new SendRequest { Body = ByteString.CopyFrom(new byte[5000]) } }.WriteDelimitedTo(stream);
        var prefixOnly = stream.ToArray().AsSpan(0, 2).ToArray();
        Assert.Throws<InvalidDataException>(() => EnvelopeFraming.TryRead(prefixOnly, 4096, out _, out _));
    }

    [Fact]
    public void Rejects_garbage_and_overlong_prefixes()
    {
        byte[] overlong = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01];
        Assert.Throws<InvalidDataException>(() => EnvelopeFraming.TryRead(overlong, int.MaxValue, out _, out _));
        byte[] garbage = [3, 0xFF, 0xFF, 0xFF];
        Assert.Throws<InvalidDataException>(() => EnvelopeFraming.TryRead(garbage, 1024, out _, out _));
    }
}
