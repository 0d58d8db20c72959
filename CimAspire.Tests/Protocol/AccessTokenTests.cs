using CimAspire.Protocol;

namespace CimAspire.Tests.Protocol;

public class AccessTokenTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
    private readonly AccessTokenCodec _codec = new("a-test-key-of-sufficient-length");

    private static AccessTokenClaims Claims(long expiresIn = 600) =>
        new(42, "alice", "im-1", "s1", Now.ToUnixTimeSeconds() + expiresIn);

    [Fact]
    public void IssuedTokenValidatesWithItsClaims()
    {
        var token = _codec.Issue(Claims());

        Assert.Equal(AccessTokenStatus.Valid, _codec.Validate(token, Now, out var claims));
        Assert.Equal(Claims(), claims);
    }

    [Fact]
    public void ExpiredTokenIsRejected()
    {
        var token = _codec.Issue(Claims(expiresIn: -1));

        Assert.Equal(AccessTokenStatus.Expired, _codec.Validate(token, Now, out _));
    }

    [Fact]
    public void TokenSignedWithAnotherKeyIsRejected()
    {
        var forged = new AccessTokenCodec("another-key-of-sufficient-length").Issue(Claims());

        Assert.Equal(AccessTokenStatus.BadSignature, _codec.Validate(forged, Now, out var claims));
        Assert.Null(claims);
    }

    [Fact]
    public void TamperedPayloadIsRejected()
    {
        var token = _codec.Issue(Claims());
        var other = _codec.Issue(Claims() with { UserId = 7 });
        var spliced = other[..other.LastIndexOf('.')] + token[token.LastIndexOf('.')..];

        Assert.Equal(AccessTokenStatus.BadSignature, _codec.Validate(spliced, Now, out _));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("v1.")]
    [InlineData("v1.abc")]
    [InlineData("v1.abc.")]
    [InlineData("v2.abc.def")]
    [InlineData("v1.!!!.###")]
    public void GarbageIsMalformed(string? token)
    {
        Assert.Equal(AccessTokenStatus.Malformed, _codec.Validate(token, Now, out _));
    }
}
