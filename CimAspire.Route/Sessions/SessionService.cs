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
        var db = redis.GetDatabase();
        // Both keys carry the user's hash tag, so this transaction is valid on Redis Cluster too. Every session lives
        // equally long, so the index expires with the newest session.
        var transaction = db.CreateTransaction();
        _ = transaction.StringSetAsync(RedisKeys.UserSession(userId, sessionId), serverId, Lifetime);
        _ = transaction.SetAddAsync(RedisKeys.UserSessions(userId), sessionId);
        _ = transaction.KeyExpireAsync(RedisKeys.UserSessions(userId), Lifetime);
        await transaction.ExecuteAsync();
        return Issue(userId, userName, serverId, sessionId);
    }

    /// <summary>Issues a new token of an existing session for another server and extends the session; null when it ended meanwhile.</summary>
    /// <remarks>
    /// This is also the check that the session is still active (a refresh skips the bearer handler's own check): one round
    /// trip, both writes pipelined, instead of a read and two writes one after another (each write waits for an fsync).
    /// </remarks>
    public async Task<IssuedToken?> RenewAsync(long userId, string userName, string sessionId, string serverId)
    {
        var db = redis.GetDatabase();
        // XX: a logout that raced this refresh wins; the session is not brought back to life. Extending the index of
        // an ended session is harmless: logout removed the session from it.
        var renewed = db.StringSetAsync(RedisKeys.UserSession(userId, sessionId), serverId, Lifetime, When.Exists);
        var indexed = db.KeyExpireAsync(RedisKeys.UserSessions(userId), Lifetime);
        await Task.WhenAll(renewed, indexed);
        return await renewed ? Issue(userId, userName, serverId, sessionId) : null;
    }

    public async Task<bool> IsActiveAsync(long userId, string sessionId) =>
        await redis.GetDatabase().KeyExistsAsync(RedisKeys.UserSession(userId, sessionId));

    public async Task<bool> EndAsync(long userId, string sessionId)
    {
        var db = redis.GetDatabase();
        var ended = db.KeyDeleteAsync(RedisKeys.UserSession(userId, sessionId));
        var unindexed = db.SetRemoveAsync(RedisKeys.UserSessions(userId), sessionId);
        await Task.WhenAll(ended, unindexed);
        return await ended;
    }

    /// <summary>Ends every session of the user (an administrator's kick); returns how many were still active.</summary>
    public async Task<int> EndAllAsync(long userId)
    {
        var db = redis.GetDatabase();
        var sessionIds = await db.SetMembersAsync(RedisKeys.UserSessions(userId));
        var ended = await Task.WhenAll(sessionIds.Select(id => db.KeyDeleteAsync(RedisKeys.UserSession(userId, id.ToString()))));
        await db.SetRemoveAsync(RedisKeys.UserSessions(userId), sessionIds);
        return ended.Count(e => e);
    }

    private IssuedToken Issue(long userId, string userName, string serverId, string sessionId)
    {
        var expires = time.GetUtcNow().Add(Lifetime).ToUnixTimeSeconds();
        var claims = new AccessTokenClaims(userId, userName, serverId, sessionId, expires);
        return new IssuedToken(codec.Issue(claims), claims);
    }
}
