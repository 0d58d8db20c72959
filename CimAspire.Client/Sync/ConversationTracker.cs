using CimAspire.Protocol;

namespace CimAspire.Client.Sync;

/// <summary>
/// What one session has received, per conversation: the last contiguous sequence, messages that arrived ahead of a
/// hole, and what was acknowledged. Turns deliveries and sync pages (in any order, with duplicates) into each message
/// exactly once, in sequence order. Not thread-safe: the client calls it under its dispatch lock.
/// </summary>
internal sealed class ConversationTracker(int initialLimit)
{
    private const int MaxSkipped = 1024;
    private readonly Dictionary<string, State> _conversations = new(StringComparer.Ordinal);

    /// <summary>Highest sequence received without a hole; 0 when nothing is known.</summary>
    public long LastSeq(string conversationId) =>
        _conversations.TryGetValue(conversationId, out var state) ? state.Last : 0;

    public bool IsKnown(string conversationId) => _conversations.ContainsKey(conversationId);

    /// <summary>
    /// Sets where to start for conversations this session has never seen: after what the user already acknowledged
    /// (on any device), but no more than the initial limit of messages back.
    /// </summary>
    public void ApplyOverview(IEnumerable<ConversationState> conversations)
    {
        foreach (var conversation in conversations)
        {
            if (string.IsNullOrEmpty(conversation.ConversationId) || _conversations.ContainsKey(conversation.ConversationId))
            {
                continue;
            }

            // Skipped messages are not acknowledged: they were not delivered, and history still has them.
            var start = Math.Max(0, Math.Max(conversation.DeliveredSeq, conversation.LastSeq - initialLimit));
            _conversations[conversation.ConversationId] = new State { Last = start, Acked = start };
        }
    }

    /// <summary>
    /// Takes a delivered or synced message. Messages that are now in order are appended to <paramref name="ready"/>
    /// (own ones are only counted, never appended). Returns true when a hole precedes a buffered message.
    /// </summary>
    public bool Accept(ChatMessage message, bool own, List<ChatMessage> ready)
    {
        var state = GetOrCreate(message.ConversationId, message.Seq);
        if (message.Seq <= state.Last)
        {
            // Only a sequence skipped as a hole can still arrive for the first time below the last one.
            if (state.Skipped.Remove(message.Seq) && !own)
            {
                ready.Add(message);
            }

            return HasGap(state);
        }

        if (state.Ahead.ContainsKey(message.Seq))
        {
            return HasGap(state);
        }

        state.Ahead[message.Seq] = own ? null : message;
        Drain(state, ready);
        return HasGap(state);
    }

    /// <summary>Records a sequence this session sent itself (from its SendAck), so it is not raised as received.</summary>
    public bool MarkOwn(string conversationId, long seq, List<ChatMessage> ready)
    {
        var state = GetOrCreate(conversationId, seq);
        if (seq > state.Last)
        {
            state.Ahead[seq] = null;
            Drain(state, ready);
        }

        return HasGap(state);
    }

    /// <summary>
    /// After a sync reached <paramref name="upToSeq"/> with nothing more on the server, a hole at or below it is a
    /// sequence the server does not have (yet): release what is buffered up to there, in order, and remember the
    /// skipped sequences so that a late arrival is still raised once.
    /// </summary>
    public void CloseGap(string conversationId, long upToSeq, List<ChatMessage> ready)
    {
        if (!_conversations.TryGetValue(conversationId, out var state))
        {
            return;
        }

        while (state.Ahead.Count > 0)
        {
            var first = state.Ahead.First();
            if (first.Key > upToSeq)
            {
                break;
            }

            for (var missing = state.Last + 1; missing < first.Key && state.Skipped.Count < MaxSkipped; missing++)
            {
                state.Skipped.Add(missing);
            }

            state.Ahead.Remove(first.Key);
            state.Last = first.Key;
            if (first.Value is not null)
            {
                ready.Add(first.Value);
            }
        }
    }

    public void GapSyncFinished(string conversationId)
    {
        if (_conversations.TryGetValue(conversationId, out var state))
        {
            state.GapSyncScheduled = false;
        }
    }

    /// <summary>True once per hole: the caller schedules one gap sync.</summary>
    public bool TryScheduleGapSync(string conversationId)
    {
        if (!_conversations.TryGetValue(conversationId, out var state) || !HasGap(state) || state.GapSyncScheduled)
        {
            return false;
        }

        state.GapSyncScheduled = true;
        return true;
    }

    public bool HasGap(string conversationId) =>
        _conversations.TryGetValue(conversationId, out var state) && HasGap(state);

    /// <summary>Conversations whose received sequence moved past the last acknowledgement; marks them acknowledged.</summary>
    public void TakeAcks(List<(string ConversationId, long Seq)> acks)
    {
        foreach (var (id, state) in _conversations)
        {
            if (state.Last > state.Acked)
            {
                state.Acked = state.Last;
                acks.Add((id, state.Last));
            }
        }
    }

    private State GetOrCreate(string conversationId, long firstSeenSeq)
    {
        if (!_conversations.TryGetValue(conversationId, out var state))
        {
            // A conversation the last sync did not list: it began since (so everything in it is new), unless the server
            // leaves some conversations out of the overview; either way fetch at most the initial limit before this message.
            state = new State { Last = Math.Max(0, firstSeenSeq - 1 - initialLimit) };
            state.Acked = state.Last;
            _conversations[conversationId] = state;
        }

        return state;
    }

    private static void Drain(State state, List<ChatMessage> ready)
    {
        while (state.Ahead.Count > 0)
        {
            var first = state.Ahead.First();
            if (first.Key != state.Last + 1)
            {
                break;
            }

            state.Ahead.Remove(first.Key);
            state.Last = first.Key;
            if (first.Value is not null)
            {
                ready.Add(first.Value);
            }
        }
    }

    private static bool HasGap(State state) => state.Ahead.Count > 0;

    private sealed class State
    {
        public long Last;
        public long Acked;
        public bool GapSyncScheduled;

        // Messages (null for own sends) that arrived ahead of a hole, by sequence.
        public readonly SortedDictionary<long, ChatMessage?> Ahead = [];

        // Holes that were given up on; a message filling one is late, not a duplicate.
        public readonly HashSet<long> Skipped = [];
    }
}
