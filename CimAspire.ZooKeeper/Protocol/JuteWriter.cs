using System.Buffers.Binary;
using System.Text;

namespace CimAspire.ZooKeeper.Protocol;

/// <summary>
/// Writes one length-prefixed frame in jute binary encoding (big-endian integers, -1 for null buffers,
/// strings and vectors). The 4-byte length is reserved up front and filled in by <see cref="ToFrame"/>.
/// </summary>
internal sealed class JuteWriter
{
    private byte[] _buffer;
    private int _length;

    public JuteWriter(int capacity = 128)
    {
        _buffer = new byte[Math.Max(capacity, 16)];
        _length = 4;
    }

    /// <summary>Number of payload bytes written so far (without the length prefix).</summary>
    public int PayloadLength => _length - 4;

    public void WriteInt(int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(Grow(4), value);
    }

    public void WriteLong(long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(Grow(8), value);
    }

    public void WriteBool(bool value)
    {
        Grow(1)[0] = value ? (byte)1 : (byte)0;
    }

    public void WriteBuffer(ReadOnlySpan<byte> value)
    {
        WriteInt(value.Length);
        value.CopyTo(Grow(value.Length));
    }

    public void WriteString(string? value)
    {
        if (value is null)
        {
            WriteInt(-1);
            return;
        }

        // Plain UTF-8 for "" too: only a real null is -1 (kazoo's empty-as-null is a known mistake).
        var byteCount = Encoding.UTF8.GetByteCount(value);
        WriteInt(byteCount);
        Encoding.UTF8.GetBytes(value, Grow(byteCount));
    }

    public void WriteStringVector(IReadOnlyCollection<string>? values)
    {
        if (values is null)
        {
            WriteInt(-1);
            return;
        }

        WriteInt(values.Count);
        foreach (var value in values)
        {
            WriteString(value);
        }
    }

    /// <summary>Overwrites an int already written at <paramref name="payloadOffset"/> (e.g. the xid chosen at send time).</summary>
    public void PatchInt(int payloadOffset, int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(4 + payloadOffset, 4), value);
    }

    /// <summary>The whole frame, length prefix included.</summary>
    public ReadOnlyMemory<byte> ToFrame()
    {
        BinaryPrimitives.WriteInt32BigEndian(_buffer, _length - 4);
        return _buffer.AsMemory(0, _length);
    }

    private Span<byte> Grow(int count)
    {
        if (_length + count > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        }

        var span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }
}
