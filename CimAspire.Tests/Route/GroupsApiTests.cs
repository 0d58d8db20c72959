using System.Net;
using CimAspire.Delivery.Routes;
using CimAspire.Protocol;
using Microsoft.Extensions.DependencyInjection;

namespace CimAspire.Tests.Route;

[Collection(RouteApiCollection.Name)]
public class GroupsApiTests(RouteApiFixture fixture)
{
    private readonly HttpClient _http = fixture.Api.CreateClient();

    private async Task<GroupDto> CreateAsync(string token, string name)
    {
        using var response = await _http.SendAsync(HttpMethod.Post, RouteApiPaths.Groups, token, new CreateGroupRequest(name));
        return await response.ReadAsync<GroupDto>(HttpStatusCode.Created);
    }

    [Fact]
    public async Task CreateJoinListMembersAndLeave()
    {
        var owner = await _http.NewUserAsync("owner");
        var joiner = await _http.NewUserAsync("joiner");
        var group = await CreateAsync(owner.Token, "  Book club  ");
        Assert.Equal("Book club", group.Name);
        Assert.Equal(owner.UserId, group.OwnerId);
        Assert.Equal(1, group.MemberCount);

        using var join = await _http.SendAsync(HttpMethod.Post, $"/api/groups/{group.GroupId}/join", joiner.Token);
        Assert.Equal(2, (await join.ReadAsync<GroupDto>()).MemberCount);
        using var again = await _http.SendAsync(HttpMethod.Post, $"/api/groups/{group.GroupId}/join", joiner.Token);
        Assert.Equal(2, (await again.ReadAsync<GroupDto>()).MemberCount);

        using var mine = await _http.SendAsync(HttpMethod.Get, RouteApiPaths.Groups, joiner.Token);
        var groups = await mine.ReadAsync<GroupDto[]>();
        Assert.Equal(ConversationIds.EveryoneGroupId, groups[0].GroupId);
        Assert.Contains(groups, g => g.GroupId == group.GroupId && g.Name == "Book club");

        await fixture.Api.Services.GetRequiredService<RouteStore>()
            .ClaimAsync(owner.UserId, owner.Server.ServerId, RouteClaimMode.Shared).WaitAsync(RouteApiTestExtensions.Timeout);
        using var membersResponse = await _http.SendAsync(HttpMethod.Get, $"/api/groups/{group.GroupId}/members", joiner.Token);
        var members = await membersResponse.ReadAsync<GroupMemberDto[]>();
        Assert.Equal(
            [new GroupMemberDto(owner.UserId, owner.UserName, true), new GroupMemberDto(joiner.UserId, joiner.UserName, false)],
            members.OrderBy(m => m.UserId));

        using var leave = await _http.SendAsync(HttpMethod.Post, $"/api/groups/{group.GroupId}/leave", joiner.Token);
        Assert.Equal(HttpStatusCode.NoContent, leave.StatusCode);
        using var after = await _http.SendAsync(HttpMethod.Get, RouteApiPaths.Groups, joiner.Token);
        Assert.DoesNotContain(await after.ReadAsync<GroupDto[]>(), g => g.GroupId == group.GroupId);
        using var gone = await _http.SendAsync(HttpMethod.Get, $"/api/groups/{group.GroupId}/members", joiner.Token);
        await gone.AssertProblemAsync(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task OnlyMembersSeeAGroupAndItsMembers()
    {
        var owner = await _http.NewUserAsync("private");
        var outsider = await _http.NewUserAsync("outsider");
        var group = await CreateAsync(owner.Token, "members only");

        using var seen = await _http.SendAsync(HttpMethod.Get, $"/api/groups/{group.GroupId}", owner.Token);
        Assert.Equal(group, await seen.ReadAsync<GroupDto>());
        using var hidden = await _http.SendAsync(HttpMethod.Get, $"/api/groups/{group.GroupId}", outsider.Token);
        Assert.Contains("not a member", (await hidden.AssertProblemAsync(HttpStatusCode.Forbidden)).Detail());
        using var members = await _http.SendAsync(HttpMethod.Get, $"/api/groups/{group.GroupId}/members", outsider.Token);
        await members.AssertProblemAsync(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task TheEveryoneRoomIsListedForEveryoneAndCannotBeLeft()
    {
        var user = await _http.NewUserAsync("everyone");
        using var mine = await _http.SendAsync(HttpMethod.Get, RouteApiPaths.Groups, user.Token);
        var groups = await mine.ReadAsync<GroupDto[]>();
        Assert.Equal(ConversationIds.EveryoneGroupId, Assert.Single(groups).GroupId);

        using var room = await _http.SendAsync(HttpMethod.Get, "/api/groups/0", user.Token);
        Assert.True((await room.ReadAsync<GroupDto>()).MemberCount >= 1);
        using var join = await _http.SendAsync(HttpMethod.Post, "/api/groups/0/join", user.Token);
        Assert.Equal(HttpStatusCode.OK, join.StatusCode);
        using var leave = await _http.SendAsync(HttpMethod.Post, "/api/groups/0/leave", user.Token);
        Assert.Contains("everyone room", (await leave.AssertProblemAsync(HttpStatusCode.Conflict)).Detail());

        await fixture.Api.Services.GetRequiredService<RouteStore>()
            .ClaimAsync(user.UserId, user.Server.ServerId, RouteClaimMode.Shared).WaitAsync(RouteApiTestExtensions.Timeout);
        using var members = await _http.SendAsync(HttpMethod.Get, "/api/groups/0/members", user.Token);
        Assert.Contains(await members.ReadAsync<GroupMemberDto[]>(), m => m.UserId == user.UserId && m.Online);
    }

    [Fact]
    public async Task UnknownGroupsAre404AndBadNamesAre400()
    {
        var user = await _http.NewUserAsync("nogroup");
        foreach (var (method, path) in new[]
        {
            (HttpMethod.Get, "/api/groups/99999999"),
            (HttpMethod.Post, "/api/groups/99999999/join"),
            (HttpMethod.Post, "/api/groups/99999999/leave"),
            (HttpMethod.Get, "/api/groups/99999999/members"),
        })
        {
            using var response = await _http.SendAsync(method, path, user.Token);
            Assert.Contains("99999999", (await response.AssertProblemAsync(HttpStatusCode.NotFound)).Detail());
        }

        foreach (var body in new object[] { new CreateGroupRequest(null), new CreateGroupRequest("   "), new CreateGroupRequest(new string('x', 65)) })
        {
            using var response = await _http.SendAsync(HttpMethod.Post, RouteApiPaths.Groups, user.Token, body);
            Assert.True((await response.AssertProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors").TryGetProperty("name", out _));
        }

        using var badJson = await _http.SendAsync(HttpMethod.Post, RouteApiPaths.Groups, user.Token, rawJson: "{\"name\":");
        await badJson.AssertProblemAsync(HttpStatusCode.BadRequest);
    }
}
