using System.Diagnostics;
using System.Security.Claims;
using System.Text;
using CimAspire.Delivery;
using CimAspire.Delivery.Dispatch;
using CimAspire.Delivery.Groups;
using CimAspire.Delivery.Messages;
using CimAspire.Protocol;
using CimAspire.Route.Accounts;
using CimAspire.Route.Auth;
using CimAspire.Route.Problems;
using Google.Protobuf;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace CimAspire.Route.Apis;

/// <summary>
/// Sending over HTTP (CIM's /p2pRoute and /groupRoute) for bots and operators, and reading history. A send takes the
/// same path as one over TCP: the delivery core stores it (idempotent per client message id) and dispatches it.
/// </summary>
public static partial class MessagesApi
{
    public const int MaxClientMsgIdLength = 128;

    public static IEndpointRouteBuilder MapMessagesApi(this IEndpointRouteBuilder app)
    {
        var messages = app.MapGroup("/api/messages").WithTags("Messages").RequireAuthorization()
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        messages.MapPost("/", SendAsync)
            .WithName("SendMessage")
            .WithSummary("Sends a text message to a user or a group; says whether a recipient was online");

        var conversations = app.MapGroup("/api/conversations").WithTags("Messages").RequireAuthorization()
            .ProducesProblem(StatusCodes.Status401Unauthorized);
        conversations.MapGet("/", GetConversationsAsync)
            .WithName("GetConversations")
            .WithSummary("The caller's conversations with last message and unread count");
        conversations.MapGet("/{conversationId}/messages", GetHistoryAsync)
            .WithName("GetHistory")
            .WithSummary("A page of a conversation's messages before a sequence, oldest first, for its members only");
        return app;
    }

    public static async Task<Results<Ok<SendMessageResponse>, ValidationProblem, ProblemHttpResult>> SendAsync(
        SendMessageRequest request,
        ClaimsPrincipal user,
        AccountStore accounts,
        GroupStore groups,
        MessageStore store,
        MessageDispatcher dispatcher,
        IOptions<DeliveryOptions> delivery,
        ILoggerFactory loggers,
        CancellationToken cancellationToken)
    {
        if (request.UserId is null == request.GroupId is null)
        {
            return ApiProblems.Invalid("userId", "Name exactly one recipient: userId or groupId.");
        }

        if (string.IsNullOrEmpty(request.Text))
        {
            return ApiProblems.Invalid("text", "The text is required.");
        }

        var body = Encoding.UTF8.GetBytes(request.Text);
        if (body.Length > delivery.Value.MaxBodyBytes)
        {
            return ApiProblems.Invalid("text", $"The text is {body.Length} bytes in UTF-8; at most {delivery.Value.MaxBodyBytes} are accepted.");
        }

        if (request.ClientMsgId is { Length: > MaxClientMsgIdLength })
        {
            return ApiProblems.Invalid("clientMsgId", $"The client message id must be at most {MaxClientMsgIdLength} characters.");
        }

        var senderId = user.UserId();
        Target to;
        if (request.UserId is { } userId)
        {
            if (await accounts.GetAsync(userId) is null)
            {
                return ApiProblems.NotFound($"There is no user {userId}.");
            }

            to = new Target { UserId = userId };
        }
        else
        {
            var groupId = request.GroupId!.Value;
            if (!await groups.ExistsAsync(groupId, cancellationToken))
            {
                return ApiProblems.NotFound($"There is no group {groupId}.");
            }

            // Membership is checked by the store, atomically with the append (NotAGroupMemberException below).
            to = new Target { GroupId = groupId };
        }

        // Without a client message id a retry cannot be recognised; a fresh one makes each call its own message.
        var clientMsgId = string.IsNullOrEmpty(request.ClientMsgId) ? $"http-{Guid.NewGuid():N}" : request.ClientMsgId;
        AppendResult result;
        try
        {
            result = await store.AppendAsync(
                new AppendRequest(senderId, user.UserName(), to, clientMsgId, ContentType.Text, ByteString.CopyFrom(body), Activity.Current?.Id),
                cancellationToken);
        }
        catch (NotAGroupMemberException e)
        {
            return ApiProblems.Forbidden($"You are not a member of group {e.GroupId}.");
        }

        // A retry is dispatched again: the first attempt may have stored the message and failed before dispatching.
        // A failed dispatch does not fail the send; the message is stored and recipients get it by sync.
        var online = 0;
        try
        {
            online = (await dispatcher.DispatchMessageAsync(result.Message, cancellationToken)).OnlineRecipients;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogDispatchFailed(loggers.CreateLogger(typeof(MessagesApi)), result.Message.ConversationId, result.Message.Seq, ex);
        }

        var message = result.Message;
        return TypedResults.Ok(new SendMessageResponse(
            message.ServerMsgId,
            message.ConversationId,
            message.Seq,
            DateTimeOffset.FromUnixTimeMilliseconds(message.ServerTimeMs),
            result.Duplicate,
            online > 0));
    }

    public static async Task<Ok<ConversationDto[]>> GetConversationsAsync(
        ClaimsPrincipal user, MessageStore store, AccountStore accounts, GroupStore groups, CancellationToken cancellationToken)
    {
        var summaries = await store.GetConversationsAsync(user.UserId(), cancellationToken: cancellationToken);
        var peers = summaries.Where(s => s.Peer.KindCase == Target.KindOneofCase.UserId).Select(s => s.Peer.UserId).ToList();
        var groupIds = summaries.Where(s => s.Peer.KindCase == Target.KindOneofCase.GroupId).Select(s => s.Peer.GroupId).Distinct().ToList();
        var names = await accounts.GetNamesAsync(peers);
        var groupInfos = await Task.WhenAll(groupIds.Select(id => groups.GetAsync(id, cancellationToken)));
        var groupNames = groupInfos.OfType<GroupInfo>().ToDictionary(g => g.GroupId, g => g.Name);

        return TypedResults.Ok(summaries.Select(s =>
        {
            var isUser = s.Peer.KindCase == Target.KindOneofCase.UserId;
            var title = isUser
                ? names.GetValueOrDefault(s.Peer.UserId, $"user {s.Peer.UserId}")
                : groupNames.GetValueOrDefault(s.Peer.GroupId, $"group {s.Peer.GroupId}");
            return new ConversationDto(
                s.ConversationId,
                isUser ? s.Peer.UserId : null,
                isUser ? null : s.Peer.GroupId,
                title,
                s.LastSeq,
                s.ReadSeq,
                s.Unread,
                s.LastMessage is null ? null : ToDto(s.LastMessage));
        }).ToArray());
    }

    public static async Task<Results<Ok<HistoryPage>, ValidationProblem, ProblemHttpResult>> GetHistoryAsync(
        string conversationId,
        ClaimsPrincipal user,
        MessageStore store,
        GroupStore groups,
        CancellationToken cancellationToken,
        long? beforeSeq = null,
        int limit = 50)
    {
        if (!ConversationIds.TryParse(conversationId, out var isGroup, out var first, out _))
        {
            return ApiProblems.Invalid("conversationId", "A conversation id is u{low}_{high} for two users or g{groupId} for a group.");
        }

        if (limit < 1 || limit > store.MaxPageSize)
        {
            return ApiProblems.Invalid("limit", $"The limit must be between 1 and {store.MaxPageSize}.");
        }

        if (beforeSeq is < 1)
        {
            return ApiProblems.Invalid("beforeSeq", "beforeSeq must be 1 or more; leave it out for the newest messages.");
        }

        var me = user.UserId();
        if (isGroup)
        {
            if (!await groups.ExistsAsync(first, cancellationToken))
            {
                return ApiProblems.NotFound($"There is no group {first}.");
            }

            if (!await groups.IsMemberAsync(first, me, cancellationToken))
            {
                return ApiProblems.Forbidden($"You are not a member of group {first}.");
            }
        }
        else if (ConversationIds.PeerOf(conversationId, me) is null)
        {
            return ApiProblems.Forbidden("You are not part of this conversation.");
        }

        var page = await store.ReadBeforeAsync(conversationId, beforeSeq ?? 0, limit, cancellationToken);
        return TypedResults.Ok(new HistoryPage(page.ConversationId, page.Messages.Select(ToDto).ToList(), page.HasMore));
    }

    // Text, emoji and system messages are UTF-8; binary bodies travel as base64 in the text field.
    private static MessageDto ToDto(ChatMessage message) => new(
        message.ServerMsgId,
        message.ClientMsgId,
        message.ConversationId,
        message.Seq,
        message.SenderId,
        message.SenderName,
        message.ContentType == ContentType.Binary ? message.Body.ToBase64() : message.Body.ToStringUtf8(),
        DateTimeOffset.FromUnixTimeMilliseconds(message.ServerTimeMs));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dispatching message {Seq} of {ConversationId} failed; recipients get it by sync")]
    private static partial void LogDispatchFailed(ILogger logger, string conversationId, long seq, Exception exception);
}
