using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace CimAspire.Route.Selection;

/// <summary>A 64-bit hash that is the same in every process and spreads uniformly (the first 8 bytes of SHA-256).</summary>
internal static class StableHash
{
    public static ulong Of(string text)
    {
        Span<byte> utf8 = stackalloc byte[Encoding.UTF8.GetMaxByteCount(text.Length)];
        var length = Encoding.UTF8.GetBytes(text, utf8);
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..length], digest);
        return BinaryPrimitives.ReadUInt64LittleEndian(digest);
    }

    public static ulong OfUser(long userId) => Of("user:" + userId.ToString(System.Globalization.CultureInfo.InvariantCulture));
}
