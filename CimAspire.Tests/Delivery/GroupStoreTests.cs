using CimAspire.Delivery.Groups;
using CimAspire.Protocol;

namespace CimAspire.Tests.Delivery;

public sealed class GroupStoreTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task OwnerIsTheFirstMemberAndMembershipFollowsJoinAndLeave()
    {
        var groups = fixture.CreateGroupStore();
        long owner = RedisFixture.NewUserId(), other = RedisFixture.NewUserId();

        var group = await groups.CreateAsync("team", owner).WaitAsync(Timeout);
        Assert.True(group.GroupId > 0);
        Assert.Equal([owner], await groups.GetMembersAsync(group.GroupId).WaitAsync(Timeout));

        Assert.Equal(GroupChange.Changed, await groups.JoinAsync(group.GroupId, other).WaitAsync(Timeout));
        Assert.Equal(GroupChange.Unchanged, await groups.JoinAsync(group.GroupId, other).WaitAsync(Timeout));
        Assert.True(await groups.IsMemberAsync(group.GroupId, other).WaitAsync(Timeout));
        Assert.Equal([group.GroupId], await groups.GetGroupsOfUserAsync(other).WaitAsync(Timeout));
        var info = await groups.GetAsync(group.GroupId).WaitAsync(Timeout);
        Assert.Equal(("team", owner, 2L), (info!.Name, info.OwnerId, info.MemberCount));

        Assert.Equal(GroupChange.Changed, await groups.LeaveAsync(group.GroupId, other).WaitAsync(Timeout));
        Assert.False(await groups.IsMemberAsync(group.GroupId, other).WaitAsync(Timeout));
        Assert.Empty(await groups.GetGroupsOfUserAsync(other).WaitAsync(Timeout));
    }

    [Fact]
    public async Task UnknownGroupsAndTheEveryoneRoomAreHandled()
    {
        var groups = fixture.CreateGroupStore();
        var user = RedisFixture.NewUserId();

        Assert.Equal(GroupChange.NotFound, await groups.JoinAsync(987_654_321, user).WaitAsync(Timeout));
        Assert.Null(await groups.GetAsync(987_654_321).WaitAsync(Timeout));
        Assert.True(await groups.IsMemberAsync(ConversationIds.EveryoneGroupId, user).WaitAsync(Timeout));
        Assert.Equal(GroupChange.NotAllowed, await groups.LeaveAsync(ConversationIds.EveryoneGroupId, user).WaitAsync(Timeout));
        Assert.Equal(GroupStore.EveryoneRoomName, (await groups.GetAsync(ConversationIds.EveryoneGroupId).WaitAsync(Timeout))!.Name);
    }
}
