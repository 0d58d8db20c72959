using System.Buffers;
using Google.Protobuf;

namespace CimAspire.Protocol;

/// <summary>
/// The TCP framing every party speaks: a varint32 length prefix followed by one serialized <see cref="Envelope"/>
/// (the same bytes as protobuf's delimited format).
/// </summary>
public static class EnvelopeFraming
{
    /// <summary>The longest a varint32 length prefix can be.</summary>
    public const int MaxPrefixBytes = 5;

    /// <summary>Writes <paramref name="value"/> as a varint32 and returns the number of bytes written (1 to 5).</summary>
    public static int WritePrefix(Span<byte> destination, uint value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[i++] = (byte)value;
        return i;
    }

    /// <summary>
    /// Reads a varint32 length prefix from the start of <paramref name="input"/>. Returns false when it is not complete
    /// yet; throws <see cref="InvalidDataException"/> when it is longer than five bytes.
    /// </summary>
    public static bool TryReadPrefix(ReadOnlySpan<byte> input, out uint length, out int prefixBytes)
    {
        length = 0;
        for (var i = 0; i < MaxPrefixBytes && i < input.Length; i++)
        {
            length |= (uint)(input[i] & 0x7F) << (7 * i);
            if ((input[i] & 0x80) == 0)
            {
                prefixBytes = i + 1;
                return true;
            }
        }

        if (input.Length >= MaxPrefixBytes)
        {
            throw new InvalidDataException("The frame length prefix is longer than a varint32.");
        }

        prefixBytes = 0;
        return false;
    }

    /// <summary>The bytes <paramref name="message"/> takes on the wire, prefix included.</summary>
    public static int FrameSize(IMessage message, out int bodySize)
    {
        ArgumentNullException.ThrowIfNull(message);
        bodySize = message.CalculateSize();
        return CodedOutputStream.ComputeLengthSize(bodySize) + bodySize;
    }

    /// <summary>Writes one frame into <paramref name="destination"/>, which must hold <see cref="FrameSize"/> bytes.</summary>
    public static int Write(Span<byte> destination, IMessage message, int bodySize)
    {
        var prefix = WritePrefix(destination, (uint)bodySize);
        message.WriteTo(destination.Slice(prefix, bodySize));
        return prefix + bodySize;
    }

    /// <summary>Appends one frame to <paramref name="output"/>.</summary>
    public static void Write(IBufferWriter<byte> output, IMessage message)
    {
        ArgumentNullException.ThrowIfNull(output);
        var frameSize = FrameSize(message, out var bodySize);
        output.Advance(Write(output.GetSpan(frameSize), message, bodySize));
    }

    /// <summary>
    /// Reads one frame from the start of <paramref name="input"/>. Returns false when the frame is not complete yet.
    /// Throws <see cref="InvalidDataException"/> for a bad prefix, a frame over <paramref name="maxFrameBytes"/> (as soon
    /// as its prefix arrives) or bytes that are not an Envelope.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> input, int maxFrameBytes, out Envelope? envelope, out int consumed)
    {
        envelope = null;
        consumed = 0;
        if (!TryReadPrefix(input, out var length, out var prefix))
        {
            return false;
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
