using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using CimAspire.Delivery;
using CimAspire.Route.Extensions;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace CimAspire.Route.Accounts;

/// <summary>A registered user as stored in Redis (the password hash never leaves this class).</summary>
public sealed record UserAccount(long UserId, string UserName, DateTimeOffset CreatedAt);

public enum RegisterOutcome
{
    Created,
    NameTaken,
}

/// <summary>
/// Accounts in Redis: the user hash (<see cref="RedisKeys.User"/>), the unique lower-case name map
/// (<see cref="RedisKeys.UserNames"/>) and the lexicographic name index for prefix search (<see cref="RedisKeys.UserNameIndex"/>).
/// </summary>
public sealed partial class AccountStore
{
    public const int MinNameLength = 3;
    public const int MaxNameLength = 32;
    public const int MaxPasswordLength = 256;
    public const int MaxSearchResults = 100;

    private const string NameField = "name";
    private const string PasswordField = "pw";
    private const string CreatedField = "created";

    private readonly IConnectionMultiplexer _redis;
    private readonly PasswordHasher<UserAccount> _hasher;
    private readonly UserAccount _nobody = new(0, "nobody", DateTimeOffset.UnixEpoch);
    private readonly string _decoyHash;
    private readonly TimeProvider _time;

    public AccountStore(IConnectionMultiplexer redis, IOptions<RouteApiOptions> options, TimeProvider time)
    {
        _redis = redis;
        _time = time;
        _hasher = new PasswordHasher<UserAccount>(Options.Create(new PasswordHasherOptions
        {
            CompatibilityMode = PasswordHasherCompatibilityMode.IdentityV3,
            IterationCount = options.Value.PasswordHashIterations,
        }));
        // Checked against when the user does not exist, so an unknown name costs as much time as a wrong password.
        _decoyHash = _hasher.HashPassword(_nobody, Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)));
    }

    [GeneratedRegex("^[A-Za-z0-9_.-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex NameCharacters();

    /// <summary>Why a user name is not acceptable, or null when it is.</summary>
    public static string? CheckUserName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "The user name is required.";
        }

        if (name.Length is < MinNameLength or > MaxNameLength)
        {
            return $"The user name must be {MinNameLength} to {MaxNameLength} characters long.";
        }

        return NameCharacters().IsMatch(name) ? null : "The user name may contain only letters A-Z and a-z, digits, '_', '.' and '-'.";
    }

    /// <summary>Whether a string could be a prefix of a user name (search input).</summary>
    public static bool IsNamePrefix(string prefix) => prefix.Length <= MaxNameLength && (prefix.Length == 0 || NameCharacters().IsMatch(prefix));

    private static string Normalize(string name) => name.ToLowerInvariant();

    public async Task<(RegisterOutcome Outcome, UserAccount? Account)> RegisterAsync(string userName, string password)
    {
        var db = _redis.GetDatabase();
        var normalized = Normalize(userName);
        // A cheap early answer for the common case; the HSETNX below is what really guarantees uniqueness.
        if (await db.HashExistsAsync(RedisKeys.UserNames, normalized))
        {
            return (RegisterOutcome.NameTaken, null);
        }

        var userId = await db.StringIncrementAsync(RedisKeys.UserIdCounter);
        var created = _time.GetUtcNow();
        var account = new UserAccount(userId, userName, DateTimeOffset.FromUnixTimeMilliseconds(created.ToUnixTimeMilliseconds()));
        var hash = _hasher.HashPassword(account, password);

        // The user hash is written before the name points at it, so a name never resolves to a half-written account.
        await db.HashSetAsync(RedisKeys.User(userId),
        [
            new HashEntry(NameField, userName),
            new HashEntry(PasswordField, hash),
            new HashEntry(CreatedField, account.CreatedAt.ToUnixTimeMilliseconds()),
        ]);
        if (!await db.HashSetAsync(RedisKeys.UserNames, normalized, userId, When.NotExists))
        {
            await db.KeyDeleteAsync(RedisKeys.User(userId));
            return (RegisterOutcome.NameTaken, null);
        }

        await db.SortedSetAddAsync(RedisKeys.UserNameIndex, normalized, 0);
        return (RegisterOutcome.Created, account);
    }

    /// <summary>The account when the password matches; null for a wrong password and for an unknown user alike.</summary>
    public async Task<UserAccount?> VerifyPasswordAsync(string userName, string password)
    {
        var db = _redis.GetDatabase();
        var id = await db.HashGetAsync(RedisKeys.UserNames, Normalize(userName));
        if (id.IsNull || !long.TryParse(id.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var userId))
        {
            _hasher.VerifyHashedPassword(_nobody, _decoyHash, password);
            return null;
        }

        var fields = await db.HashGetAsync(RedisKeys.User(userId), [NameField, PasswordField, CreatedField]);
        if (fields[0].IsNull || fields[1].IsNull)
        {
            _hasher.VerifyHashedPassword(_nobody, _decoyHash, password);
            return null;
        }

        var account = ToAccount(userId, fields[0], fields[2]);
        var result = _hasher.VerifyHashedPassword(account, fields[1].ToString(), password);
        if (result == PasswordVerificationResult.Failed)
        {
            return null;
        }

        if (result == PasswordVerificationResult.SuccessRehashNeeded)
        {
            await db.HashSetAsync(RedisKeys.User(userId), PasswordField, _hasher.HashPassword(account, password));
        }

        return account;
    }

    public async Task<UserAccount?> GetAsync(long userId)
    {
        if (userId <= 0)
        {
            return null;
        }

        var fields = await _redis.GetDatabase().HashGetAsync(RedisKeys.User(userId), [NameField, CreatedField]);
        return fields[0].IsNull ? null : ToAccount(userId, fields[0], fields[1]);
    }

    public async Task<UserAccount?> FindByNameAsync(string userName)
    {
        if (CheckUserName(userName) is not null)
        {
            return null;
        }

        var id = await _redis.GetDatabase().HashGetAsync(RedisKeys.UserNames, Normalize(userName));
        return id.IsNull ? null : await GetAsync((long)id);
    }

    /// <summary>User names of many users in one round trip; unknown ids are left out.</summary>
    public async Task<IReadOnlyDictionary<long, string>> GetNamesAsync(IEnumerable<long> userIds)
    {
        var db = _redis.GetDatabase();
        var lookups = userIds.Distinct().Select(id => (Id: id, Name: db.HashGetAsync(RedisKeys.User(id), NameField))).ToList();
        await Task.WhenAll(lookups.Select(l => l.Name));
        var names = new Dictionary<long, string>(lookups.Count);
        foreach (var (id, name) in lookups)
        {
            if (!name.Result.IsNull)
            {
                names[id] = name.Result.ToString();
            }
        }

        return names;
    }

    /// <summary>Users whose name starts with the prefix (case-insensitive), in name order.</summary>
    public async Task<IReadOnlyList<UserAccount>> SearchAsync(string prefix, int limit)
    {
        limit = Math.Clamp(limit, 1, MaxSearchResults);
        var normalized = Normalize(prefix);
        var db = _redis.GetDatabase();
        // Names hold only ASCII below DEL, so [prefix, prefix + DEL] is exactly the names that start with the prefix.
        var names = await db.SortedSetRangeByValueAsync(RedisKeys.UserNameIndex, normalized, normalized + "\u007f",
            Exclude.None, Order.Ascending, 0, limit);
        if (names.Length == 0)
        {
            return [];
        }

        var ids = await db.HashGetAsync(RedisKeys.UserNames, names);
        var accounts = await Task.WhenAll(ids.Where(id => !id.IsNull).Select(id => GetAsync((long)id)));
        return accounts.OfType<UserAccount>().ToList();
    }

    private static UserAccount ToAccount(long userId, RedisValue name, RedisValue created) =>
        new(userId, name.ToString(), created.IsNull ? DateTimeOffset.UnixEpoch : DateTimeOffset.FromUnixTimeMilliseconds((long)created));
}
