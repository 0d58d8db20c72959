using CimAspire.Benchmarks.Results;

namespace CimAspire.Tests.Benchmarks;

public class LatencyRecorderTests
{
    [Fact]
    public void SmallValuesAreExactAndPercentilesFollowTheRanks()
    {
        var recorder = new LatencyRecorder();
        for (var v = 1; v <= 1000; v++)
        {
            recorder.Record(v);
        }

        Assert.Equal(1000, recorder.Count);
        Assert.Equal(500, recorder.ValueAtPercentile(50));
        Assert.Equal(990, recorder.ValueAtPercentile(99));
        Assert.Equal(999, recorder.ValueAtPercentile(99.9));
        Assert.Equal(1000, recorder.ValueAtPercentile(100));
        Assert.Equal(1, recorder.MinMicroseconds);
        Assert.Equal(1000, recorder.MaxMicroseconds);
        Assert.Equal(500.5, recorder.MeanMicroseconds, 3);
    }

    [Theory]
    [InlineData(1_024L)]
    [InlineData(5_000L)]
    [InlineData(123_456L)]
    [InlineData(9_876_543_210L)]
    public void LargeValuesKeepTheirMagnitudeWithinTwoTenthsOfAPercent(long value)
    {
        var recorder = new LatencyRecorder();
        recorder.Record(value);
        recorder.Record(value * 2);
        var p50 = recorder.ValueAtPercentile(50);
        Assert.InRange(p50, value, value + (value / 500) + 1);
    }

    [Fact]
    public void BucketBoundsAreContiguousAndOrdered()
    {
        var previousHigh = -1L;
        for (var index = 0; index < 8_000; index++)
        {
            var high = LatencyRecorder.HighestEquivalentValue(index);
            Assert.True(high > previousHigh, $"bucket {index} upper bound {high} is not above {previousHigh}");
            Assert.Equal(index, LatencyRecorder.IndexOf(high));
            Assert.Equal(index, LatencyRecorder.IndexOf(previousHigh + 1));
            previousHigh = high;
        }
    }

    [Fact]
    public void MergesAndSummarisesInMilliseconds()
    {
        var a = new LatencyRecorder();
        var b = new LatencyRecorder();
        for (var i = 0; i < 99; i++)
        {
            a.Record(1_000);
        }

        b.Record(50_000);
        a.Add(b);
        var summary = a.Summarize();
        Assert.Equal(100, summary.Count);
        Assert.Equal(1.0, summary.P50Ms, 2);
        Assert.Equal(1.0, summary.P99Ms, 2);
        Assert.InRange(summary.P999Ms, 49.9, 50.1);
        Assert.Equal(50.0, summary.MaxMs, 2);
    }

    [Fact]
    public void AnEmptyRecorderReportsZeros()
    {
        var summary = new LatencyRecorder().Summarize();
        Assert.Equal(new LatencySummary(0, 0, 0, 0, 0, 0), summary);
    }
}
