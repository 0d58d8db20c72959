using CimAspire.Client.Sync;
using CimAspire.Protocol;

namespace CimAspire.Tests.Client;

public class ConversationTrackerTests
{
    private const string Conversation = "u1_2";

    [Fact]
    public void Duplicates_are_dropped_and_out_of_order_messages_wait_for_the_hole()
    {
        var tracker = new ConversationTracker(100);
        tracker.ApplyOverview([new ConversationState { ConversationId = Conversation, LastSeq = 0 }]);
        var ready = new List<ChatMessage>();

        Assert.False(tracker.Accept(Message(1), own: false, ready));
        Assert.False(tracker.Accept(Message(1), own: false, ready));
        Assert.True(tracker.Accept(Message(3), own: false, ready));
        Assert.True(tracker.Accept(Message(3), own: false, ready));
        Assert.Equal([1L], ready.Select(m => m.Seq));

        Assert.False(tracker.Accept(Message(2), own: false, ready));
        Assert.Equal([1L, 2L, 3L], ready.Select(m => m.Seq));
        Assert.Equal(3, tracker.LastSeq(Conversation));
    }

    [Fact]
    public void Own_sends_advance_the_sequence_without_being_raised()
    {
        var tracker = new ConversationTracker(100);
        tracker.ApplyOverview([new ConversationState { ConversationId = Conversation }]);
        var ready = new List<ChatMessage>();

        tracker.MarkOwn(Conversation, 2, ready);
        tracker.Accept(Message(1), own: false, ready);
        tracker.Accept(Message(2), own: false, ready);
        tracker.Accept(Message(3), own: false, ready);

        Assert.Equal([1L, 3L], ready.Select(m => m.Seq));
    }

    [Fact]
    public void Closing_a_gap_releases_buffered_messages_and_still_takes_the_late_one_once()
    {
        var tracker = new ConversationTracker(100);
        tracker.ApplyOverview([new ConversationState { ConversationId = Conversation }]);
        var ready = new List<ChatMessage>();
        tracker.Accept(Message(1), own: false, ready);
        tracker.Accept(Message(3), own: false, ready);
        tracker.Accept(Message(5), own: false, ready);

        tracker.CloseGap(Conversation, 3, ready);
        Assert.Equal([1L, 3L], ready.Select(m => m.Seq));
        Assert.True(tracker.HasGap(Conversation));

        tracker.Accept(Message(2), own: false, ready);
        tracker.Accept(Message(2), own: false, ready);
        tracker.Accept(Message(4), own: false, ready);
        Assert.Equal([1L, 3L, 2L, 4L, 5L], ready.Select(m => m.Seq));
    }

    [Fact]
    public void A_new_session_starts_after_what_the_user_acknowledged_but_at_most_the_initial_limit_back()
    {
        var tracker = new ConversationTracker(100);
        tracker.ApplyOverview(
            [
                new ConversationState { ConversationId = "g0", LastSeq = 5000, DeliveredSeq = 10 },
                new ConversationState { ConversationId = Conversation, LastSeq = 30, DeliveredSeq = 25 },
            ]);

        Assert.Equal(4900, tracker.LastSeq("g0"));
        Assert.Equal(25, tracker.LastSeq(Conversation));

        var acks = new List<(string, long)>();
        tracker.TakeAcks(acks);
        Assert.Empty(acks);
    }

    [Fact]
    public void A_conversation_first_seen_live_waits_for_at_most_the_initial_limit_of_earlier_messages()
    {
        var tracker = new ConversationTracker(2);
        var ready = new List<ChatMessage>();
        Assert.True(tracker.Accept(Message(7, "g3"), own: false, ready));
        Assert.Empty(ready);

        tracker.Accept(Message(6, "g3"), own: false, ready);
        tracker.Accept(Message(5, "g3"), own: false, ready);
        Assert.Equal([5L, 6L, 7L], ready.Select(m => m.Seq));
        Assert.Equal(7, tracker.LastSeq("g3"));
    }

    private static ChatMessage Message(long seq, string conversation = Conversation) =>
        new() { ConversationId = conversation, Seq = seq, ServerMsgId = "s" + seq, SenderId = 2 };
}
