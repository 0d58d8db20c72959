using System.Buffers;
using CimAspire.Protocol;
using Google.Protobuf;

namespace CimAspire.Client.Transport;

/// <summary>The TCP framing: a varint32 length prefix followed by one serialized <see cref="Envelope"/>.</summary>
internal static class FrameCodec
{
    private const int MaxVarintBytes = 5;

    public static void Write(IBufferWriter<byte> output, Envelope envelope)
    {
        var size = envelope.CalculateSize();
        var prefix = CodedOutputStream.ComputeLengthSize(size);
        var span = output.GetSpan(prefix + size);
        var value = (uint)size;
        var i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[i++] = (byte)value;
        envelope.WriteTo(span.Slice(i, size));
        output.Advance(i + size);
    }

    /// <summary>
    /// Reads one frame from the start of <paramref name="input"/>. Returns false when the frame is not complete yet.
    /// Throws <see cref="InvalidDataException"/> for a bad prefix, a frame over <paramref name="maxFrameBytes"/> or bytes
    /// that are not an Envelope.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> input, int maxFrameBytes, out Envelope? envelope, out int consumed)
    {
        envelope = null;
        consumed = 0;
        uint length = 0;
        var shift = 0;
        var prefix = 0;
        while (true)
        {
            if (prefix == input.Length)
            {
                return false;
            }

            if (prefix == MaxVarintBytes)
            {
                throw new InvalidDataException("The frame length prefix is longer than a varint32.");
            }

            var b = input[prefix++];
            length |= (uint)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                break;
            }

            shift += 7;
        }

        if (length > (uint)maxFrameBytes)
        {
            throw new InvalidDataException($"A frame of {length} bytes is larger than the limit of {maxFrameBytes}.");
        }

        if (input.Length - prefix < length)
        {
            return false;
        }

        try
        {
            envelope = Envelope.Parser.ParseFrom(input.Slice(prefix, (int)length));
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException("A frame is not a valid Envelope.", e);
        }

        consumed = prefix + (int)length;
        return true;
    }
}
