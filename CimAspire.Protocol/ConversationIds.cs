namespace CimAspire.Protocol;

/// <summary>
/// Conversation ids: <c>u{low}_{high}</c> for two users (the same id whoever sends), <c>g{groupId}</c> for a group.
/// Group 0 is the everyone room every user is in.
/// </summary>
public static class ConversationIds
{
    public const long EveryoneGroupId = 0;

    public static string ForUsers(long a, long b) => a <= b ? $"u{a}_{b}" : $"u{b}_{a}";

    public static string ForGroup(long groupId) => $"g{groupId}";

    public static string For(long senderId, Target to) => to.KindCase switch
    {
        Target.KindOneofCase.UserId => ForUsers(senderId, to.UserId),
        Target.KindOneofCase.GroupId => ForGroup(to.GroupId),
        _ => throw new ArgumentException("The target names neither a user nor a group.", nameof(to)),
    };

    /// <summary>Parses a conversation id; returns false for anything that is not one.</summary>
    public static bool TryParse(string? id, out bool isGroup, out long first, out long second)
    {
        isGroup = false;
        first = second = 0;
        if (string.IsNullOrEmpty(id) || id.Length < 2)
        {
            return false;
        }

        if (id[0] == 'g')
        {
            isGroup = true;
            return long.TryParse(id.AsSpan(1), System.Globalization.NumberStyles.None, null, out first);
        }

        if (id[0] != 'u')
        {
            return false;
        }

        var sep = id.IndexOf('_');
        return sep > 1
            && long.TryParse(id.AsSpan(1, sep - 1), System.Globalization.NumberStyles.None, null, out first)
            && long.TryParse(id.AsSpan(sep + 1), System.Globalization.NumberStyles.None, null, out second)
            && first > 0 && first <= second;
    }

    /// <summary>The other side of a conversation as seen by <paramref name="userId"/>, or null if the user is not in it.</summary>
    public static Target? PeerOf(string conversationId, long userId)
    {
        if (!TryParse(conversationId, out var isGroup, out var first, out var second))
        {
            return null;
        }

        if (isGroup)
        {
            return new Target { GroupId = first };
        }

        if (userId == first)
        {
            return new Target { UserId = second };
        }

        return userId == second ? new Target { UserId = first } : null;
    }
}
