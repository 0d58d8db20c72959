using System.Globalization;
using CimAspire.Protocol;
using StackExchange.Redis;

namespace CimAspire.Delivery.Groups;

public sealed record GroupInfo(long GroupId, string Name, long OwnerId, DateTimeOffset CreatedAt, long MemberCount);

public enum GroupChange
{
    /// <summary>The membership changed.</summary>
    Changed,
    /// <summary>Nothing to do: already a member, or not a member.</summary>
    Unchanged,
    /// <summary>There is no such group.</summary>
    NotFound,
    /// <summary>Membership of the everyone room cannot change.</summary>
    NotAllowed,
}

/// <summary>
/// Groups and their members. Group 0 is the everyone room: every user is in it implicitly, it has no member set,
/// and it is delivered to every online user.
/// </summary>
public sealed class GroupStore(IConnectionMultiplexer redis, TimeProvider time)
{
    public const string EveryoneRoomName = "everyone";

    private IDatabase Db => redis.GetDatabase();

    /// <summary>Creates a group; the owner is its first member.</summary>
    public async Task<GroupInfo> CreateAsync(string name, long ownerId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var db = Db;
        var groupId = await db.StringIncrementAsync(RedisKeys.GroupIdCounter).WaitAsync(cancellationToken);
        var now = time.GetUtcNow();
        // Members first: a crash before the hash is written leaves a set nobody can find, never a group without its owner.
        await Task.WhenAll(
            db.SetAddAsync(RedisKeys.GroupMembers(groupId), ownerId),
            db.SetAddAsync(RedisKeys.UserGroups(ownerId), groupId)).WaitAsync(cancellationToken);
        await db.HashSetAsync(RedisKeys.Group(groupId),
        [
            new HashEntry("name", name),
            new HashEntry("owner", ownerId),
            new HashEntry("created", now.ToUnixTimeMilliseconds()),
        ]).WaitAsync(cancellationToken);
        return new GroupInfo(groupId, name, ownerId, now, 1);
    }

    /// <summary>The group, or null when it does not exist. The everyone room counts the registered users.</summary>
    public async Task<GroupInfo?> GetAsync(long groupId, CancellationToken cancellationToken = default)
    {
        var db = Db;
        if (groupId == ConversationIds.EveryoneGroupId)
        {
            var users = await db.HashLengthAsync(RedisKeys.UserNames).WaitAsync(cancellationToken);
            return new GroupInfo(groupId, EveryoneRoomName, 0, DateTimeOffset.UnixEpoch, users);
        }

        var fields = db.HashGetAllAsync(RedisKeys.Group(groupId));
        var count = db.SetLengthAsync(RedisKeys.GroupMembers(groupId));
        await Task.WhenAll(fields, count).WaitAsync(cancellationToken);
        var map = (await fields).ToDictionary(e => (string)e.Name!, e => e.Value, StringComparer.Ordinal);
        if (!map.TryGetValue("name", out var name))
        {
            return null;
        }

        return new GroupInfo(
            groupId,
            (string)name!,
            map.TryGetValue("owner", out var owner) ? (long)owner : 0,
            DateTimeOffset.FromUnixTimeMilliseconds(map.TryGetValue("created", out var created) ? (long)created : 0),
            await count);
    }

    public async Task<bool> ExistsAsync(long groupId, CancellationToken cancellationToken = default)
        => groupId == ConversationIds.EveryoneGroupId
           || await Db.KeyExistsAsync(RedisKeys.Group(groupId)).WaitAsync(cancellationToken);

    public async Task<GroupChange> JoinAsync(long groupId, long userId, CancellationToken cancellationToken = default)
    {
        if (groupId == ConversationIds.EveryoneGroupId)
        {
            return GroupChange.Unchanged;
        }

        if (!await ExistsAsync(groupId, cancellationToken))
        {
            return GroupChange.NotFound;
        }

        var db = Db;
        var added = db.SetAddAsync(RedisKeys.GroupMembers(groupId), userId);
        var indexed = db.SetAddAsync(RedisKeys.UserGroups(userId), groupId);
        await Task.WhenAll(added, indexed).WaitAsync(cancellationToken);
        return await added ? GroupChange.Changed : GroupChange.Unchanged;
    }

    public async Task<GroupChange> LeaveAsync(long groupId, long userId, CancellationToken cancellationToken = default)
    {
        if (groupId == ConversationIds.EveryoneGroupId)
        {
            return GroupChange.NotAllowed;
        }

        if (!await ExistsAsync(groupId, cancellationToken))
        {
            return GroupChange.NotFound;
        }

        var db = Db;
        var removed = db.SetRemoveAsync(RedisKeys.GroupMembers(groupId), userId);
        var unindexed = db.SetRemoveAsync(RedisKeys.UserGroups(userId), groupId);
        await Task.WhenAll(removed, unindexed).WaitAsync(cancellationToken);
        return await removed ? GroupChange.Changed : GroupChange.Unchanged;
    }

    /// <summary>Whether the user may send to and receive from the group (everyone is in the everyone room).</summary>
    public async Task<bool> IsMemberAsync(long groupId, long userId, CancellationToken cancellationToken = default)
        => groupId == ConversationIds.EveryoneGroupId
           || await Db.SetContainsAsync(RedisKeys.GroupMembers(groupId), userId).WaitAsync(cancellationToken);

    /// <summary>The member ids of a group (empty for the everyone room, whose membership is implicit).</summary>
    public async Task<IReadOnlyList<long>> GetMembersAsync(long groupId, CancellationToken cancellationToken = default)
    {
        if (groupId == ConversationIds.EveryoneGroupId)
        {
            return [];
        }

        var members = await Db.SetMembersAsync(RedisKeys.GroupMembers(groupId)).WaitAsync(cancellationToken);
        return members.Select(m => (long)m).Order().ToList();
    }

    /// <summary>The groups the user belongs to explicitly (the everyone room is not listed).</summary>
    public async Task<IReadOnlyList<long>> GetGroupsOfUserAsync(long userId, CancellationToken cancellationToken = default)
    {
        var groups = await Db.SetMembersAsync(RedisKeys.UserGroups(userId)).WaitAsync(cancellationToken);
        return groups.Select(g => long.Parse((string)g!, CultureInfo.InvariantCulture)).Order().ToList();
    }

    /// <summary>Whether an account exists (the route API writes accounts; delivery only checks recipients).</summary>
    public async Task<bool> UserExistsAsync(long userId, CancellationToken cancellationToken = default)
        => userId > 0 && await Db.KeyExistsAsync(RedisKeys.User(userId)).WaitAsync(cancellationToken);
}
