using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CimAspire.Protocol;

/// <summary>What a token says about its bearer.</summary>
/// <param name="ServerId">The IM server the token admits the user to; empty for a token that only opens the route API.</param>
/// <param name="SessionId">Identifies one login, so logout can end it.</param>
public sealed record AccessTokenClaims(
    [property: JsonPropertyName("uid")] long UserId,
    [property: JsonPropertyName("name")] string UserName,
    [property: JsonPropertyName("srv")] string ServerId,
    [property: JsonPropertyName("sid")] string SessionId,
    [property: JsonPropertyName("exp")] long ExpiresAtUnixSeconds)
{
    [JsonIgnore]
    public DateTimeOffset ExpiresAt => DateTimeOffset.FromUnixTimeSeconds(ExpiresAtUnixSeconds);
}

public enum AccessTokenStatus
{
    Valid,
    Malformed,
    BadSignature,
    Expired,
}

/// <summary>
/// Issues and checks the HMAC-SHA256 tokens of CimAspire: <c>v1.{base64url(json claims)}.{base64url(hmac)}</c>.
/// The route API issues them; IM servers check them locally with the same shared key, so a login needs no round trip.
/// </summary>
public sealed class AccessTokenCodec
{
    private const string Prefix = "v1.";
    private const int MaxTokenLength = 2048;
    private readonly byte[] _key;

    public AccessTokenCodec(string key)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        if (key.Length < 16)
        {
            throw new ArgumentException("The token key must be at least 16 characters long.", nameof(key));
        }

        _key = Encoding.UTF8.GetBytes(key);
    }

    public string Issue(AccessTokenClaims claims)
    {
        var payload = JsonSerializer.SerializeToUtf8Bytes(claims, TokenJsonContext.Default.AccessTokenClaims);
        var signature = HMACSHA256.HashData(_key, payload);
        return Prefix + Base64Url.EncodeToString(payload) + "." + Base64Url.EncodeToString(signature);
    }

    public AccessTokenStatus Validate(string? token, DateTimeOffset now, out AccessTokenClaims? claims)
    {
        claims = null;
        if (string.IsNullOrEmpty(token) || token.Length > MaxTokenLength || !token.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return AccessTokenStatus.Malformed;
        }

        var rest = token.AsSpan(Prefix.Length);
        var dot = rest.IndexOf('.');
        if (dot <= 0 || dot == rest.Length - 1)
        {
            return AccessTokenStatus.Malformed;
        }

        byte[] payload;
        byte[] signature;
        try
        {
            payload = Base64Url.DecodeFromChars(rest[..dot]);
            signature = Base64Url.DecodeFromChars(rest[(dot + 1)..]);
        }
        catch (FormatException)
        {
            return AccessTokenStatus.Malformed;
        }

        var expected = HMACSHA256.HashData(_key, payload);
        if (!CryptographicOperations.FixedTimeEquals(expected, signature))
        {
            return AccessTokenStatus.BadSignature;
        }

        try
        {
            claims = JsonSerializer.Deserialize(payload, TokenJsonContext.Default.AccessTokenClaims);
        }
        catch (JsonException)
        {
            return AccessTokenStatus.Malformed;
        }

        if (claims is null || claims.UserId <= 0 || string.IsNullOrEmpty(claims.UserName))
        {
            claims = null;
            return AccessTokenStatus.Malformed;
        }

        return claims.ExpiresAt <= now ? AccessTokenStatus.Expired : AccessTokenStatus.Valid;
    }
}

[JsonSerializable(typeof(AccessTokenClaims))]
internal sealed partial class TokenJsonContext : JsonSerializerContext;
