using System.Security.Claims;
using CimAspire.Delivery.Groups;
using CimAspire.Protocol;
using CimAspire.Route.Accounts;
using CimAspire.Route.Auth;
using CimAspire.Route.Presence;
using CimAspire.Route.Problems;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CimAspire.Route.Apis;

/// <summary>Groups through the delivery core's <see cref="GroupStore"/>; group 0 is the everyone room every user is in.</summary>
public static class GroupsApi
{
    public const int MaxGroupNameLength = 64;

    public static IEndpointRouteBuilder MapGroupsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/groups").WithTags("Groups").RequireAuthorization()
            .ProducesProblem(StatusCodes.Status401Unauthorized);

        api.MapPost("/", CreateAsync)
            .WithName("CreateGroup")
            .WithSummary("Creates a group; the caller is its owner and first member");
        api.MapGet("/", GetMyGroupsAsync)
            .WithName("GetMyGroups")
            .WithSummary("The caller's groups, the everyone room (group 0) first");
        api.MapGet("/{groupId:long}", GetAsync)
            .WithName("GetGroup")
            .WithSummary("A group the caller belongs to");
        api.MapPost("/{groupId:long}/join", JoinAsync)
            .WithName("JoinGroup")
            .WithSummary("Joins a group (joining twice changes nothing)");
        api.MapPost("/{groupId:long}/leave", LeaveAsync)
            .WithName("LeaveGroup")
            .WithSummary("Leaves a group (the everyone room cannot be left)");
        api.MapGet("/{groupId:long}/members", GetMembersAsync)
            .WithName("GetGroupMembers")
            .WithSummary("The members of a group the caller belongs to, each with whether they are online; for the everyone room, the online users");
        return app;
    }

    public static async Task<Results<Created<GroupDto>, ValidationProblem>> CreateAsync(
        CreateGroupRequest request, ClaimsPrincipal user, GroupStore groups, CancellationToken cancellationToken)
    {
        var name = request.Name?.Trim();
        if (string.IsNullOrEmpty(name))
        {
            return ApiProblems.Invalid("name", "The group name is required.");
        }

        if (name.Length > MaxGroupNameLength || name.Any(char.IsControl))
        {
            return ApiProblems.Invalid("name", $"The group name must be at most {MaxGroupNameLength} characters, without control characters.");
        }

        var group = await groups.CreateAsync(name, user.UserId(), cancellationToken);
        return TypedResults.Created($"/api/groups/{group.GroupId}", ToDto(group));
    }

    public static async Task<Ok<GroupDto[]>> GetMyGroupsAsync(ClaimsPrincipal user, GroupStore groups, CancellationToken cancellationToken)
    {
        var ids = await groups.GetGroupsOfUserAsync(user.UserId(), cancellationToken);
        var found = await Task.WhenAll(ids.Prepend(ConversationIds.EveryoneGroupId).Distinct().Select(id => groups.GetAsync(id, cancellationToken)));
        return TypedResults.Ok(found.OfType<GroupInfo>().Select(ToDto).ToArray());
    }

    public static async Task<Results<Ok<GroupDto>, ProblemHttpResult>> GetAsync(
        long groupId, ClaimsPrincipal user, GroupStore groups, CancellationToken cancellationToken)
    {
        var group = await groups.GetAsync(groupId, cancellationToken);
        if (group is null)
        {
            return NoSuchGroup(groupId);
        }

        return await groups.IsMemberAsync(groupId, user.UserId(), cancellationToken)
            ? TypedResults.Ok(ToDto(group))
            : NotAMember(groupId);
    }

    public static async Task<Results<Ok<GroupDto>, ProblemHttpResult>> JoinAsync(
        long groupId, ClaimsPrincipal user, GroupStore groups, CancellationToken cancellationToken)
    {
        if (await groups.JoinAsync(groupId, user.UserId(), cancellationToken) == GroupChange.NotFound)
        {
            return NoSuchGroup(groupId);
        }

        var group = await groups.GetAsync(groupId, cancellationToken);
        return group is null ? NoSuchGroup(groupId) : TypedResults.Ok(ToDto(group));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> LeaveAsync(
        long groupId, ClaimsPrincipal user, GroupStore groups, CancellationToken cancellationToken) =>
        await groups.LeaveAsync(groupId, user.UserId(), cancellationToken) switch
        {
            GroupChange.NotFound => NoSuchGroup(groupId),
            GroupChange.NotAllowed => ApiProblems.Conflict("Every user is in the everyone room (group 0); it cannot be left."),
            _ => TypedResults.NoContent(),
        };

    public static async Task<Results<Ok<GroupMemberDto[]>, ProblemHttpResult>> GetMembersAsync(
        long groupId,
        ClaimsPrincipal user,
        GroupStore groups,
        AccountStore accounts,
        PresenceReader presence,
        CancellationToken cancellationToken)
    {
        if (groupId == ConversationIds.EveryoneGroupId)
        {
            // Everyone is a member; listing every registered user would be unbounded, so the room shows who is online.
            var online = await presence.GetOnlinePageAsync(0, PresenceReader.MaxPageSize, cancellationToken);
            return TypedResults.Ok(online.Users.Select(u => new GroupMemberDto(u.UserId, u.UserName, true)).ToArray());
        }

        if (!await groups.ExistsAsync(groupId, cancellationToken))
        {
            return NoSuchGroup(groupId);
        }

        var members = await groups.GetMembersAsync(groupId, cancellationToken);
        if (!members.Contains(user.UserId()))
        {
            return NotAMember(groupId);
        }

        var names = accounts.GetNamesAsync(members);
        var onlineMembers = await presence.OnlineAmongAsync(members, cancellationToken);
        var known = await names;
        return TypedResults.Ok(members
            .Select(id => new GroupMemberDto(id, known.GetValueOrDefault(id, ""), onlineMembers.Contains(id)))
            .ToArray());
    }

    private static ProblemHttpResult NoSuchGroup(long groupId) => ApiProblems.NotFound($"There is no group {groupId}.");

    private static ProblemHttpResult NotAMember(long groupId) => ApiProblems.Forbidden($"You are not a member of group {groupId}.");

    private static GroupDto ToDto(GroupInfo group) => new(group.GroupId, group.Name, group.OwnerId, group.MemberCount);
}
