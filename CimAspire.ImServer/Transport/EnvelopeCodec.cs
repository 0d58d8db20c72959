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
                envelope = Envelope.Parser.ParseFrom(message.Array, message.ArrayOffset + message.ReaderIndex, message.ReadableBytes);
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

/// <summary>Writes an <see cref="Envelope"/> as a varint32 length prefix followed by its bytes.</summary>
public sealed class EnvelopeEncoder : MessageToByteEncoder<Envelope>
{
    protected override void Encode(IChannelHandlerContext context, Envelope message, IByteBuffer output)
    {
        var size = message.CalculateSize();
        var buffer = new byte[CodedOutputStream.ComputeRawVarint32Size((uint)size) + size];
        var stream = new CodedOutputStream(buffer);
        stream.WriteUInt32((uint)size);
        message.WriteTo(stream);
        stream.Flush();
        output.WriteBytes(buffer);
    }
}
