using CimAspire.Protocol;
using DotNetty.Buffers;
using DotNetty.Codecs;
using DotNetty.Transport.Channels;
using Google.Protobuf;

namespace CimAspire.ImServer.Transport;

/// <summary>Turns one frame's bytes into an <see cref="Envelope"/>; bytes that are not one are a protocol violation.</summary>
public sealed class EnvelopeDecoder : MessageToMessageDecoder<IByteBuffer>
{
    protected override void Decode(IChannelHandlerContext context, IByteBuffer message, List<object> output)
    {
        try
        {
            Envelope envelope;
            if (message.HasArray)
            {
                // From a span: parsing from an array allocates a CodedInputStream per frame.
                envelope = Envelope.Parser.ParseFrom(new ReadOnlySpan<byte>(message.Array, message.ArrayOffset + message.ReaderIndex, message.ReadableBytes));
            }
            else
            {
                var bytes = new byte[message.ReadableBytes];
                message.GetBytes(message.ReaderIndex, bytes);
                envelope = Envelope.Parser.ParseFrom(bytes);
            }

            if (envelope.BodyCase == Envelope.BodyOneofCase.None)
            {
                throw new ProtocolViolationException(ErrorCode.MalformedFrame, "The frame carries no known body.");
            }

            output.Add(envelope);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new ProtocolViolationException(ErrorCode.MalformedFrame, "The frame is not a valid envelope: " + ex.Message);
        }
    }
}

/// <summary>Writes an <see cref="Envelope"/> as one frame (<see cref="EnvelopeFraming"/>) straight into the outbound buffer.</summary>
public sealed class EnvelopeEncoder : MessageToByteEncoder<Envelope>
{
    protected override void Encode(IChannelHandlerContext context, Envelope message, IByteBuffer output)
    {
        var frameSize = EnvelopeFraming.FrameSize(message, out var bodySize);
        output.EnsureWritable(frameSize);
        if (output.HasArray)
        {
            var written = EnvelopeFraming.Write(output.Array.AsSpan(output.ArrayOffset + output.WriterIndex, frameSize), message, bodySize);
            output.SetWriterIndex(output.WriterIndex + written);
            return;
        }

        var buffer = new byte[frameSize];
        EnvelopeFraming.Write(buffer, message, bodySize);
        output.WriteBytes(buffer);
    }
}
