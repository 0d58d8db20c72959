using System.Buffers.Binary;
using System.Text;

namespace CimAspire.ZooKeeper.Protocol;

/// <summary>
/// Reads jute binary records from one frame's payload. Every length is checked against what remains in the frame,
/// so a malformed reply throws <see cref="ZooKeeperProtocolException"/> instead of reading past the frame.
/// </summary>
internal ref struct JuteReader
{
    private readonly ReadOnlySpan<byte> _payload;
    private int _position;

    public JuteReader(ReadOnlySpan<byte> payload)
    {
        _payload = payload;
        _position = 0;
    }

    public readonly int Remaining => _payload.Length - _position;

    public int ReadInt()
    {
        return BinaryPrimitives.ReadInt32BigEndian(Take(4));
    }

    public long ReadLong()
    {
        return BinaryPrimitives.ReadInt64BigEndian(Take(8));
    }

    public bool ReadBool()
    {
        return Take(1)[0] != 0;
    }

    public byte[]? ReadBuffer()
    {
        var length = ReadLength("buffer");
        return length < 0 ? null : Take(length).ToArray();
    }

    public string? ReadString()
    {
        var length = ReadLength("string");
        if (length < 0)
        {
            return null;
        }

        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Take(length));
        }
        catch (DecoderFallbackException ex)
        {
            throw new ZooKeeperProtocolException("A string in the reply is not valid UTF-8.", ex);
        }
    }

    public List<string>? ReadStringVector()
    {
        var count = ReadInt();
        if (count == -1)
        {
            return null;
        }

        // Each element takes at least 4 bytes, which bounds a lying count before any allocation.
        if (count < -1 || count > Remaining / 4)
        {
            throw new ZooKeeperProtocolException($"Vector count {count} does not fit in the {Remaining} bytes left of the frame.");
        }

        var items = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            items.Add(ReadString() ?? throw new ZooKeeperProtocolException("A null string inside a vector of strings."));
        }

        return items;
    }

    private int ReadLength(string what)
    {
        var length = ReadInt();
        if (length < -1 || length > Remaining)
        {
            throw new ZooKeeperProtocolException($"A {what} length of {length} does not fit in the {Remaining} bytes left of the frame.");
        }

        return length;
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > Remaining)
        {
            throw new ZooKeeperProtocolException($"The frame ended early: {count} bytes needed, {Remaining} left.");
        }

        var span = _payload.Slice(_position, count);
        _position += count;
        return span;
    }
}
