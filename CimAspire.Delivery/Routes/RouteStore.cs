using System.Globalization;
using StackExchange.Redis;

namespace CimAspire.Delivery.Routes;

/// <summary>How a login treats the user's routes on other servers.</summary>
public enum RouteClaimMode
{
    /// <summary>Keep them: the user may be online on several servers (several devices).</summary>
    Shared,
    /// <summary>Take over: other servers' entries are removed and returned so their connections can be kicked.</summary>
    Exclusive,
    /// <summary>Refuse the claim when another server holds the user.</summary>
    RejectIfElsewhere,
}

/// <summary>
/// The outcome of a claim. <see cref="OtherServers"/> lists the servers that held the user before;
/// <see cref="CameOnline"/> is true when no server held the user before this claim (a presence transition).
/// </summary>
public sealed record RouteClaim(bool Accepted, long Epoch, IReadOnlyList<string> OtherServers, bool CameOnline = false);

/// <summary>
/// The outcome of a release: <see cref="Released"/> is false when a newer claim replaced the entry (nothing changed);
/// <see cref="WentOffline"/> is true when this release removed the user's last entry and took them out of the online set.
/// </summary>
public sealed record RouteRelease(bool Released, bool WentOffline);

/// <summary>What removing a departed server did: how many users it held, and which of them are now offline.</summary>
public sealed record ServerDeparture(int Users, IReadOnlyList<long> WentOffline);

/// <summary>One server holding a user, with the epoch of the claim and when it was made.</summary>
public sealed record RouteEntry(string ServerId, long Epoch, DateTimeOffset Since);

/// <summary>
/// Routes (which IM servers hold a user), presence and server load in Redis. Every claim gets a fresh epoch from a
/// per-user counter that is never deleted; a release removes a server's entry only with that entry's epoch, so a
/// stale server can never wipe a newer route (the race that loses messages in CIM).
/// </summary>
public sealed class RouteStore(IConnectionMultiplexer redis, TimeProvider time)
{
    // KEYS: route, epoch counter. ARGV: server id, now ms, mode (0 shared, 1 exclusive, 2 reject).
    private const string ClaimScript = """
        local fields = redis.call('HKEYS', KEYS[1])
        local others = {}
        for _, f in ipairs(fields) do
          if f ~= ARGV[1] then table.insert(others, f) end
        end
        if ARGV[3] == '2' and #others > 0 then return {0, 0, others, 0} end
        local epoch = redis.call('INCR', KEYS[2])
        if ARGV[3] == '1' then
          for _, f in ipairs(others) do redis.call('HDEL', KEYS[1], f) end
        end
        redis.call('HSET', KEYS[1], ARGV[1], epoch .. ':' .. ARGV[2])
        local cameOnline = 0
        if #fields == 0 then cameOnline = 1 end
        return {1, epoch, others, cameOnline}
        """;

    // KEYS: route. ARGV: server id, epoch ('' = any epoch: the server is gone). Returns entries left, or -1 if stale.
    private const string ReleaseScript = """
        local v = redis.call('HGET', KEYS[1], ARGV[1])
        if not v then return -1 end
        if ARGV[2] ~= '' then
          local sep = string.find(v, ':', 1, true)
          if string.sub(v, 1, sep - 1) ~= ARGV[2] then return -1 end
        end
        redis.call('HDEL', KEYS[1], ARGV[1])
        return redis.call('HLEN', KEYS[1])
        """;

    private readonly Lock _lookupGate = new();
    // Lookups asked for since the last batch went out, one per user; null when none are waiting.
    private Dictionary<long, TaskCompletionSource<IReadOnlyList<RouteEntry>>>? _lookups;

    private IDatabase Db => redis.GetDatabase();

    /// <summary>Records that <paramref name="serverId"/> holds the user now, with a new epoch, and marks them online.</summary>
    public async Task<RouteClaim> ClaimAsync(long userId, string serverId, RouteClaimMode mode, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(serverId);
        var db = Db;
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var script = db.ScriptEvaluateAsync(
            ClaimScript,
            [RedisKeys.Route(userId), RedisKeys.RouteEpoch(userId)],
            [serverId, now, (int)mode]);
        Task? marks = null;
        if (mode != RouteClaimMode.RejectIfElsewhere)
        {
            // Only a RejectIfElsewhere claim can be refused, so the others send the online marks right behind the script
            // (one connection, so Redis runs them after it): one round trip, and one fsync wait, per login instead of two.
            // Should the client library have to re-send the script (NOSCRIPT after a Redis restart), the marks run
            // first; at worst a release racing that claim leaves the user routed but out of the online set (presence only).
            marks = MarkHeldAsync(db, userId, serverId, now);
            await Task.WhenAll(script, marks).WaitAsync(cancellationToken);
        }

        var reply = (RedisResult[])(await script.WaitAsync(cancellationToken))!;
        var others = ((RedisResult[])reply[2]!).Select(r => (string)r!).ToList();
        if ((long)reply[0] == 0)
        {
            return new RouteClaim(false, 0, others);
        }

        await (marks ?? MarkHeldAsync(db, userId, serverId, now)).WaitAsync(cancellationToken);
        return new RouteClaim(true, (long)reply[1], mode == RouteClaimMode.Exclusive ? others : [], (long)reply[3] == 1);
    }

    private static Task MarkHeldAsync(IDatabase db, long userId, string serverId, long now) => Task.WhenAll(
        db.SortedSetAddAsync(RedisKeys.Online, userId, now),
        db.SetAddAsync(RedisKeys.ServerUsers(serverId), userId));

    /// <summary>
    /// Removes the server's entry if it still carries <paramref name="epoch"/>. Returns false (and changes nothing in the
    /// route) when a newer claim replaced it. The user goes offline when no server holds them any more.
    /// </summary>
    public async Task<RouteRelease> ReleaseAsync(long userId, string serverId, long epoch, CancellationToken cancellationToken = default)
    {
        var db = Db;
        var script = db.ScriptEvaluateAsync(ReleaseScript, [RedisKeys.Route(userId)], [serverId, epoch]);
        // This server holds no connection of the user any more, whatever the route says now (sent with the script).
        var unheld = db.SetRemoveAsync(RedisKeys.ServerUsers(serverId), userId);
        await Task.WhenAll(script, unheld).WaitAsync(cancellationToken);
        var left = (long)await script;
        var wentOffline = left == 0 && await MarkOfflineIfUnroutedAsync(db, userId).WaitAsync(cancellationToken);
        return new RouteRelease(left >= 0, wentOffline);
    }

    /// <summary>
    /// Removes every route entry of a server that is gone (crashed or left the registry) and takes its users offline
    /// unless another server holds them. Returns how many users the server held and which of them went offline (a user
    /// another caller already released, e.g. a second route replica, is not listed twice).
    /// </summary>
    public async Task<ServerDeparture> MarkServerOfflineAsync(string serverId, CancellationToken cancellationToken = default)
    {
        var db = Db;
        var users = await db.SetMembersAsync(RedisKeys.ServerUsers(serverId)).WaitAsync(cancellationToken);
        var releases = users.Select(async u =>
        {
            var userId = (long)u;
            var left = (long)await db.ScriptEvaluateAsync(ReleaseScript, [RedisKeys.Route(userId)], [serverId, string.Empty]);
            return left == 0 && await MarkOfflineIfUnroutedAsync(db, userId) ? userId : (long?)null;
        });
        var offline = (await Task.WhenAll(releases).WaitAsync(cancellationToken)).OfType<long>().ToList();
        await Task.WhenAll(
            db.KeyDeleteAsync(RedisKeys.ServerUsers(serverId)),
            db.HashDeleteAsync(RedisKeys.ServerLoad, serverId)).WaitAsync(cancellationToken);
        return new ServerDeparture(users.Length, offline);
    }

    /// <summary>The servers holding each of the users (users without a route are left out).</summary>
    public async Task<IReadOnlyDictionary<long, IReadOnlyList<RouteEntry>>> GetRoutesAsync(IEnumerable<long> userIds, CancellationToken cancellationToken = default)
    {
        var db = Db;
        var lookups = userIds.Distinct().Select(id => (Id: id, Task: db.HashGetAllAsync(RedisKeys.Route(id)))).ToList();
        await Task.WhenAll(lookups.Select(l => l.Task)).WaitAsync(cancellationToken);
        var routes = new Dictionary<long, IReadOnlyList<RouteEntry>>();
        foreach (var (id, task) in lookups)
        {
            var entries = (await task).Select(Parse).Where(e => e is not null).Select(e => e!).ToList();
            if (entries.Count > 0)
            {
                routes[id] = entries;
            }
        }

        return routes;
    }

    /// <summary>
    /// Like <see cref="GetRoutesAsync"/>, but concurrent callers share one batch: lookups asked for while the previous
    /// batch is being sent are sent together, one command per distinct user. Each lookup is sent after it was asked
    /// for, so it sees every claim made before the call (what a dispatch after a store relies on).
    /// </summary>
    public async Task<IReadOnlyDictionary<long, IReadOnlyList<RouteEntry>>> LookupRoutesAsync(
        IReadOnlyCollection<long> userIds, CancellationToken cancellationToken = default)
    {
        var waits = new List<(long UserId, Task<IReadOnlyList<RouteEntry>> Task)>(userIds.Count);
        var schedule = false;
        lock (_lookupGate)
        {
            if (_lookups is null)
            {
                _lookups = [];
                schedule = true;
            }

            foreach (var userId in userIds)
            {
                if (!_lookups.TryGetValue(userId, out var pending))
                {
                    _lookups[userId] = pending = new TaskCompletionSource<IReadOnlyList<RouteEntry>>(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                waits.Add((userId, pending.Task));
            }
        }

        if (schedule)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static store => store.SendLookups(), this, preferLocal: false);
        }

        await Task.WhenAll(waits.Select(w => w.Task)).WaitAsync(cancellationToken);
        var routes = new Dictionary<long, IReadOnlyList<RouteEntry>>(waits.Count);
        foreach (var (userId, task) in waits)
        {
            var entries = await task;
            if (entries.Count > 0)
            {
                routes[userId] = entries;
            }
        }

        return routes;
    }

    /// <summary>
    /// Looks one user's routes up with a command issued now on <paramref name="db"/>: issued right behind another
    /// command on the same connection (e.g. the store of a message, see <c>MessageStore.AppendAsync</c>'s follow-up),
    /// Redis runs it after that one, so it sees every claim made before it, and both share one round trip.
    /// </summary>
    public static Task<IReadOnlyList<RouteEntry>> LookupRouteBehind(IDatabaseAsync db, long userId)
    {
        ArgumentNullException.ThrowIfNull(db);
        return ParseAsync(db.HashGetAllAsync(RedisKeys.Route(userId)));

        static async Task<IReadOnlyList<RouteEntry>> ParseAsync(Task<HashEntry[]> lookup)
            => ParseAll(await lookup.ConfigureAwait(false));
    }

    private void SendLookups()
    {
        Dictionary<long, TaskCompletionSource<IReadOnlyList<RouteEntry>>>? batch;
        lock (_lookupGate)
        {
            batch = _lookups;
            _lookups = null;
        }

        if (batch is null)
        {
            return;
        }

        var db = Db;
        foreach (var (userId, pending) in batch)
        {
            Task<HashEntry[]> lookup;
            try
            {
                lookup = db.HashGetAllAsync(RedisKeys.Route(userId));
            }
            catch (Exception ex)
            {
                pending.TrySetException(ex);
                continue;
            }

            lookup.ContinueWith(
                static (t, state) =>
                {
                    var tcs = (TaskCompletionSource<IReadOnlyList<RouteEntry>>)state!;
                    if (t.IsCompletedSuccessfully)
                    {
                        tcs.TrySetResult(ParseAll(t.Result));
                    }
                    else
                    {
                        tcs.TrySetException(t.Exception?.InnerExceptions ?? [new TaskCanceledException()]);
                    }
                },
                pending,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    /// <summary>The servers holding one user; empty when offline.</summary>
    public async Task<IReadOnlyList<RouteEntry>> GetRouteAsync(long userId, CancellationToken cancellationToken = default)
        => (await GetRoutesAsync([userId], cancellationToken)).GetValueOrDefault(userId) ?? [];

    /// <summary>The users a server holds, as recorded in Redis.</summary>
    public async Task<IReadOnlyList<long>> GetServerUsersAsync(string serverId, CancellationToken cancellationToken = default)
        => (await Db.SetMembersAsync(RedisKeys.ServerUsers(serverId)).WaitAsync(cancellationToken)).Select(v => (long)v).ToList();

    public async Task<long> GetOnlineCountAsync(CancellationToken cancellationToken = default)
        => await Db.SortedSetLengthAsync(RedisKeys.Online).WaitAsync(cancellationToken);

    /// <summary>Online users ordered by login time (oldest first), with when they came online.</summary>
    public async Task<IReadOnlyList<(long UserId, DateTimeOffset Since)>> GetOnlinePageAsync(long skip, int take, CancellationToken cancellationToken = default)
    {
        if (take <= 0)
        {
            return [];
        }

        var entries = await Db.SortedSetRangeByRankWithScoresAsync(RedisKeys.Online, skip, skip + take - 1).WaitAsync(cancellationToken);
        return entries.Select(e => ((long)e.Element, DateTimeOffset.FromUnixTimeMilliseconds((long)e.Score))).ToList();
    }

    /// <summary>When the user came online, or null when offline.</summary>
    public async Task<DateTimeOffset?> GetOnlineSinceAsync(long userId, CancellationToken cancellationToken = default)
    {
        var score = await Db.SortedSetScoreAsync(RedisKeys.Online, userId).WaitAsync(cancellationToken);
        return score is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds((long)ms) : null;
    }

    /// <summary>Publishes a server's connection count for the least-connections strategy.</summary>
    public Task ReportLoadAsync(string serverId, int connections, CancellationToken cancellationToken = default)
        => Db.HashSetAsync(RedisKeys.ServerLoad, serverId, connections).WaitAsync(cancellationToken);

    public Task RemoveLoadAsync(string serverId, CancellationToken cancellationToken = default)
        => Db.HashDeleteAsync(RedisKeys.ServerLoad, serverId).WaitAsync(cancellationToken);

    /// <summary>Every server's last reported connection count; its keys are the servers that announced themselves.</summary>
    public async Task<IReadOnlyDictionary<string, int>> GetLoadsAsync(CancellationToken cancellationToken = default)
    {
        var entries = await Db.HashGetAllAsync(RedisKeys.ServerLoad).WaitAsync(cancellationToken);
        return entries.ToDictionary(e => (string)e.Name!, e => (int)e.Value, StringComparer.Ordinal);
    }

    // The online set lives on another slot than the route, so it cannot change in the same script; re-checking the
    // route after the removal repairs a claim that raced with it. True when the user went offline here.
    private static async Task<bool> MarkOfflineIfUnroutedAsync(IDatabase db, long userId)
    {
        // Sent together: Redis reads the route after the removal (one connection), which is all the re-check needs.
        var removing = db.SortedSetRemoveAsync(RedisKeys.Online, userId);
        var reading = db.HashGetAllAsync(RedisKeys.Route(userId));
        await Task.WhenAll(removing, reading);
        var removed = await removing;
        var entries = await reading;
        var since = entries.Select(Parse).Where(e => e is not null).Select(e => e!.Since).DefaultIfEmpty().Max();
        if (entries.Length > 0)
        {
            await db.SortedSetAddAsync(RedisKeys.Online, userId, since.ToUnixTimeMilliseconds());
            return false;
        }

        return removed;
    }

    private static List<RouteEntry> ParseAll(HashEntry[] entries)
    {
        var parsed = new List<RouteEntry>(entries.Length);
        foreach (var entry in entries)
        {
            if (Parse(entry) is { } route)
            {
                parsed.Add(route);
            }
        }

        return parsed;
    }

    private static RouteEntry? Parse(HashEntry entry)
    {
        var value = (string?)entry.Value;
        var sep = value?.IndexOf(':') ?? -1;
        if (value is null || sep <= 0
            || !long.TryParse(value.AsSpan(0, sep), NumberStyles.None, CultureInfo.InvariantCulture, out var epoch)
            || !long.TryParse(value.AsSpan(sep + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var since))
        {
            return null;
        }

        return new RouteEntry((string)entry.Name!, epoch, DateTimeOffset.FromUnixTimeMilliseconds(since));
    }
}
