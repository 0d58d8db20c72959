using CimAspire.Protocol;

namespace CimAspire.ImServer.Sessions;

/// <summary>
/// Messages pushed to one connection and not yet acknowledged, per conversation in sequence order, with the time
/// each is due to be pushed again. Bounded: beyond the limit new pushes are not tracked (the client's sync repairs).
/// </summary>
public sealed class PendingDeliveries(int limit)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, SortedDictionary<long, Entry>> _byConversation = new(StringComparer.Ordinal);
    private int _count;

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    /// <summary>Remembers a pushed message; false when the limit is reached and it is not tracked.</summary>
    public bool Track(ChatMessage message, long dueTimestamp)
    {
        lock (_gate)
        {
            if (!_byConversation.TryGetValue(message.ConversationId, out var entries))
            {
                _byConversation[message.ConversationId] = entries = [];
            }

            if (entries.ContainsKey(message.Seq))
            {
                entries[message.Seq] = new Entry(message, dueTimestamp);
                return true;
            }

            if (_count >= limit)
            {
                return false;
            }

            entries[message.Seq] = new Entry(message, dueTimestamp);
            _count++;
            return true;
        }
    }

    /// <summary>Forgets everything up to and including <paramref name="seq"/> in the conversation.</summary>
    public void Acknowledge(string conversationId, long seq)
    {
        lock (_gate)
        {
            if (!_byConversation.TryGetValue(conversationId, out var entries))
            {
                return;
            }

            foreach (var key in entries.Keys.TakeWhile(k => k <= seq).ToList())
            {
                entries.Remove(key);
                _count--;
            }

            if (entries.Count == 0)
            {
                _byConversation.Remove(conversationId);
            }
        }
    }

    /// <summary>The messages due now, oldest first per conversation; each is rescheduled to <paramref name="nextDue"/>.</summary>
    public List<ChatMessage> TakeDue(long now, long nextDue)
    {
        var due = new List<ChatMessage>();
        lock (_gate)
        {
            foreach (var entries in _byConversation.Values)
            {
                foreach (var (seq, entry) in entries.ToList())
                {
                    if (entry.Due <= now)
                    {
                        due.Add(entry.Message);
                        entries[seq] = entry with { Due = nextDue };
                    }
                }
            }
        }

        return due;
    }

    private readonly record struct Entry(ChatMessage Message, long Due);
}
