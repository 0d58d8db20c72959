using System.Buffers.Binary;
using System.Diagnostics;

namespace CimAspire.Benchmarks.Completeness;

/// <summary>
/// The harness's header inside every message body: which stream, which message of it, and when it was sent
/// (a <see cref="Stopwatch"/> timestamp: senders and receivers live in the harness process, so one clock serves both).
/// The rest of the body is filler up to the requested payload size.
/// </summary>
public readonly record struct MessageStamp(int StreamId, long Sequence, long SentTimestamp)
{
    public const int Size = 20;

    public static byte[] CreateBody(int payloadBytes, int streamId, long sequence, long sentTimestamp)
    {
        var body = new byte[Math.Max(Size, payloadBytes)];
        Write(body, streamId, sequence, sentTimestamp);
        return body;
    }

    public static void Write(Span<byte> body, int streamId, long sequence, long sentTimestamp)
    {
        if (body.Length < Size)
        {
            throw new ArgumentException($"A message body must have at least {Size} bytes.", nameof(body));
        }

        BinaryPrimitives.WriteInt32LittleEndian(body, streamId);
        BinaryPrimitives.WriteInt64LittleEndian(body[4..], sequence);
        BinaryPrimitives.WriteInt64LittleEndian(body[12..], sentTimestamp);
        body[Size..].Fill((byte)'x');
    }

    public static bool TryRead(ReadOnlySpan<byte> body, out MessageStamp stamp)
    {
        if (body.Length < Size)
        {
            stamp = default;
            return false;
        }

        stamp = new MessageStamp(
            BinaryPrimitives.ReadInt32LittleEndian(body),
            BinaryPrimitives.ReadInt64LittleEndian(body[4..]),
            BinaryPrimitives.ReadInt64LittleEndian(body[12..]));
        return stamp.StreamId >= 0 && stamp.Sequence > 0;
    }
}
