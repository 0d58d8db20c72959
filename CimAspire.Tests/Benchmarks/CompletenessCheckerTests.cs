using CimAspire.Benchmarks.Completeness;

namespace CimAspire.Tests.Benchmarks;

public class CompletenessCheckerTests
{
    [Fact]
    public void EveryAcknowledgedMessageOnceInOrderIsComplete()
    {
        var checker = new CompletenessChecker();
        var stream = checker.RegisterStream();
        for (var i = 0; i < 10; i++)
        {
            var seq = checker.NextSequence(stream);
            checker.Acknowledged(stream, seq);
            Assert.Equal(DeliveryOutcome.InOrder, checker.Delivered(stream, 0, seq));
        }

        var report = checker.Verify();
        Assert.True(report.IsComplete, report.Describe());
        Assert.Equal(10, report.ExpectedDeliveries);
        Assert.Equal(10, report.Delivered);
        Assert.True(checker.AllCaughtUp());
    }

    [Fact]
    public void AMissingAcknowledgedMessageIsALoss()
    {
        var checker = new CompletenessChecker();
        var stream = checker.RegisterStream();
        var first = checker.NextSequence(stream);
        var second = checker.NextSequence(stream);
        checker.Acknowledged(stream, first);
        checker.Acknowledged(stream, second);
        checker.Delivered(stream, 0, first);

        Assert.False(checker.AllCaughtUp());
        var report = checker.Verify();
        Assert.False(report.IsComplete);
        Assert.Equal(1, report.Lost);
        Assert.Contains("lost 1", report.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void ASecondCopyIsADuplicateAndAnEarlierOneAfterALaterIsOutOfOrder()
    {
        var checker = new CompletenessChecker();
        var stream = checker.RegisterStream();
        var one = checker.NextSequence(stream);
        var two = checker.NextSequence(stream);
        checker.Acknowledged(stream, one);
        checker.Acknowledged(stream, two);

        Assert.Equal(DeliveryOutcome.InOrder, checker.Delivered(stream, 0, two));
        Assert.Equal(DeliveryOutcome.OutOfOrder, checker.Delivered(stream, 0, one));
        Assert.Equal(DeliveryOutcome.Duplicate, checker.Delivered(stream, 0, two));

        var report = checker.Verify();
        Assert.False(report.IsComplete);
        Assert.Equal(0, report.Lost);
        Assert.Equal(1, report.Duplicated);
        Assert.Equal(1, report.OutOfOrder);
    }

    [Fact]
    public void ARetriedMessageArrivingAfterLaterOnesIsReorderedByRetryNotOutOfOrder()
    {
        var checker = new CompletenessChecker();
        var stream = checker.RegisterStream();
        var one = checker.NextSequence(stream);
        var two = checker.NextSequence(stream);
        checker.Acknowledged(stream, two);
        checker.Delivered(stream, 0, two);
        checker.Retried(stream, one);
        checker.Acknowledged(stream, one);
        checker.Delivered(stream, 0, one);

        var report = checker.Verify();
        Assert.True(report.IsComplete, report.Describe());
        Assert.Equal(1, report.ReorderedByRetry);
        Assert.Equal(0, report.OutOfOrder);
    }

    [Fact]
    public void RefusedOrNeverSentMessagesMustNotArrive()
    {
        var checker = new CompletenessChecker();
        var stream = checker.RegisterStream();
        var refused = checker.NextSequence(stream);
        checker.Refused(stream, refused);

        Assert.Equal(DeliveryOutcome.Unexpected, checker.Delivered(stream, 0, refused));
        Assert.Equal(DeliveryOutcome.Unexpected, checker.Delivered(stream, 0, 42));
        var report = checker.Verify();
        Assert.Equal(2, report.Unexpected);
        Assert.False(report.IsComplete);
    }

    [Fact]
    public void UnconfirmedSendsMayArriveOrNot()
    {
        var checker = new CompletenessChecker();
        var stream = checker.RegisterStream();
        var arrived = checker.NextSequence(stream);
        checker.NextSequence(stream); // its server died before the ack; it never arrives
        checker.Delivered(stream, 0, arrived);

        var report = checker.Verify();
        Assert.True(report.IsComplete, report.Describe());
        Assert.Equal(2, report.Unconfirmed);
        Assert.Equal(1, report.UnconfirmedDelivered);
    }

    [Fact]
    public void AGroupStreamExpectsEveryRecipient()
    {
        var checker = new CompletenessChecker();
        var stream = checker.RegisterStream(recipientCount: 3);
        var seq = checker.NextSequence(stream);
        checker.Acknowledged(stream, seq);
        checker.Delivered(stream, 0, seq);
        checker.Delivered(stream, 2, seq);

        Assert.True(checker.IsCaughtUp(stream, 0));
        Assert.False(checker.IsCaughtUp(stream, 1));
        var report = checker.Verify();
        Assert.Equal(3, report.ExpectedDeliveries);
        Assert.Equal(1, report.Lost);
        Assert.Throws<ArgumentOutOfRangeException>(() => checker.Delivered(stream, 3, seq));
    }

    [Fact]
    public void ConcurrentSendersAndReceiversLoseNothing()
    {
        var checker = new CompletenessChecker();
        var streams = Enumerable.Range(0, 8).Select(_ => checker.RegisterStream()).ToArray();
        Parallel.ForEach(streams, stream =>
        {
            for (var i = 0; i < 5_000; i++)
            {
                var seq = checker.NextSequence(stream);
                checker.Acknowledged(stream, seq);
                checker.Delivered(stream, 0, seq);
            }
        });

        var report = checker.Verify();
        Assert.True(report.IsComplete, report.Describe());
        Assert.Equal(40_000, report.Delivered);
    }

    [Fact]
    public void TheStampRoundTripsAndRejectsShortBodies()
    {
        var body = MessageStamp.CreateBody(64, 7, 12345, 987654321);
        Assert.Equal(64, body.Length);
        Assert.True(MessageStamp.TryRead(body, out var stamp));
        Assert.Equal(new MessageStamp(7, 12345, 987654321), stamp);
        Assert.False(MessageStamp.TryRead(body.AsSpan(0, MessageStamp.Size - 1), out _));
        Assert.Throws<ArgumentException>(() => MessageStamp.Write(new byte[10], 1, 1, 1));
    }
}
