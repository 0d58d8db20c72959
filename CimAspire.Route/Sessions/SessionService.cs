using System.Security.Cryptography;
using CimAspire.Delivery;
using CimAspire.Protocol;
using CimAspire.Route.Extensions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace CimAspire.Route.Sessions;

/// <summary>A token just issued and what it says.</summary>
public sealed record IssuedToken(string Token, AccessTokenClaims Claims);

/// <summary>
/// Logins as sessions: a session key (<see cref="RedisKeys.UserSession"/>, value = the server picked last, TTL = token lifetime)
/// and the signed tokens that name it. A token is honoured by the route API only while its session key exists.
/// </summary>
public sealed class SessionService(IConnectionMultiplexer redis, AccessTokenCodec codec, IOptions<RouteApiOptions> options, TimeProvider time)
{
    private TimeSpan Lifetime => TimeSpan.FromSeconds(options.Value.TokenLifetimeSeconds);

    public static string NewSessionId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>Starts a session (a new login) whose first token admits the user to <paramref name="serverId"/>.</summary>
    public async Task<IssuedToken> StartAsync(long userId, string userName, string serverId)
    {
        var sessionId = NewSessionId();
        await redis.GetDatabase().StringSetAsync(RedisKeys.UserSession(userId, sessionId), serverId, Lifetime);
        return Issue(userId, userName, serverId, sessionId);
    }

    /// <summary>Issues a new token of an existing session for another server and extends the session; null when it ended meanwhile.</summary>
    public async Task<IssuedToken?> RenewAsync(long userId, string userName, string sessionId, string serverId)
    {
        // XX: a logout that raced this refresh wins; the session is not brought back to life.
        var renewed = await redis.GetDatabase().StringSetAsync(RedisKeys.UserSession(userId, sessionId), serverId, Lifetime, When.Exists);
        return renewed ? Issue(userId, userName, serverId, sessionId) : null;
    }

    public async Task<bool> IsActiveAsync(long userId, string sessionId) =>
        await redis.GetDatabase().KeyExistsAsync(RedisKeys.UserSession(userId, sessionId));

    public async Task<bool> EndAsync(long userId, string sessionId) =>
        await redis.GetDatabase().KeyDeleteAsync(RedisKeys.UserSession(userId, sessionId));

    private IssuedToken Issue(long userId, string userName, string serverId, string sessionId)
    {
        var expires = time.GetUtcNow().Add(Lifetime).ToUnixTimeSeconds();
        var claims = new AccessTokenClaims(userId, userName, serverId, sessionId, expires);
        return new IssuedToken(codec.Issue(claims), claims);
    }
}
