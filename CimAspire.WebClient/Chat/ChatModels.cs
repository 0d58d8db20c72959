using System.Collections.Immutable;
using CimAspire.Protocol;

namespace CimAspire.WebClient.Chat;

/// <summary>Whether an own message reached the server.</summary>
public enum SendState
{
    Stored,
    Sending,
    Failed,
}

/// <summary>What the sender sees next to an own message.</summary>
public enum MessageStatus
{
    Sending,
    Failed,
    Sent,
    Delivered,
    Read,
}

/// <summary>One message in a conversation view. Seq is 0 while an own message is not yet stored.</summary>
public sealed record ChatLine(
    string ClientMsgId,
    string? ServerMsgId,
    long Seq,
    long SenderId,
    string SenderName,
    string Text,
    DateTimeOffset Time,
    SendState SendState)
{
    public static ChatLine From(ChatMessage message) => new(
        message.ClientMsgId,
        message.ServerMsgId,
        message.Seq,
        message.SenderId,
        message.SenderName,
        message.Body.ToStringUtf8(),
        DateTimeOffset.FromUnixTimeMilliseconds(message.ServerTimeMs),
        SendState.Stored);

    public static ChatLine From(MessageDto message) => new(
        message.ClientMsgId,
        message.ServerMsgId,
        message.Seq,
        message.SenderId,
        message.SenderName,
        message.Text,
        message.ServerTime,
        SendState.Stored);
}

/// <summary>
/// A conversation as the user sees it. Immutable: the session replaces it on every change, so components render a
/// consistent snapshot while events arrive on other threads.
/// </summary>
public sealed record Conversation(string Id, string Title, long? PeerUserId, long? GroupId)
{
    public bool IsEveryoneRoom => GroupId == ConversationIds.EveryoneGroupId;

    public long LastSeq { get; init; }

    public long ReadSeq { get; init; }

    public long Unread { get; init; }

    public ChatLine? LastMessage { get; init; }

    /// <summary>Loaded messages, oldest first; unsent own messages last.</summary>
    public ImmutableList<ChatLine> Messages { get; init; } = [];

    public bool HistoryLoaded { get; init; }

    public bool HasMoreHistory { get; init; }

    /// <summary>Highest sequence each other member acknowledged receiving / reading.</summary>
    public ImmutableDictionary<long, long> DeliveredBy { get; init; } = ImmutableDictionary<long, long>.Empty;

    public ImmutableDictionary<long, long> ReadBy { get; init; } = ImmutableDictionary<long, long>.Empty;

    public Target Target => GroupId is { } group ? new Target { GroupId = group } : new Target { UserId = PeerUserId ?? 0 };

    public DateTimeOffset LastActivity => LastMessage?.Time ?? DateTimeOffset.MinValue;

    public MessageStatus StatusOf(ChatLine line) => line.SendState switch
    {
        SendState.Sending => MessageStatus.Sending,
        SendState.Failed => MessageStatus.Failed,
        _ when ReadBy.Values.Any(seq => seq >= line.Seq) => MessageStatus.Read,
        _ when DeliveredBy.Values.Any(seq => seq >= line.Seq) => MessageStatus.Delivered,
        _ => MessageStatus.Sent,
    };

    /// <summary>How many other members read the line (for groups).</summary>
    public int ReadCount(ChatLine line) => ReadBy.Values.Count(seq => seq >= line.Seq);
}

public sealed record OnlineUser(long UserId, string UserName);
