using CimAspire.Protocol;

namespace CimAspire.Tests.Client;

/// <summary>The reconnect backoff the route API hands out and the SDK (and the harness) follow.</summary>
public class ReconnectPolicyTests
{
    [Fact]
    public void TheCapDoublesFromTheBaseDelayUpToTheMaximum()
    {
        var policy = new ReconnectPolicyDto(500, 30_000, 0);
        Assert.Equal(
            [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000],
            Enumerable.Range(0, 8).Select(n => policy.DelayBefore(n, 0.5).TotalMilliseconds));
        Assert.Equal(30_000, policy.DelayBefore(1_000, 0.5).TotalMilliseconds);
    }

    [Fact]
    public void FullJitterSpreadsTheFirstAttemptOverTheWholeBaseDelay()
    {
        var policy = new ReconnectPolicyDto(500, 30_000, 1);
        Assert.Equal(500, policy.DelayBefore(0, 0).TotalMilliseconds);
        Assert.Equal(250, policy.DelayBefore(0, 0.5).TotalMilliseconds);
        Assert.True(policy.DelayBefore(0, 0.999).TotalMilliseconds < 1);
        Assert.Equal(1_000, policy.DelayBefore(1, 0).TotalMilliseconds);
        Assert.Equal(500, policy.DelayBefore(1, 0.5).TotalMilliseconds);
    }

    [Fact]
    public void PartialJitterTakesAwayAtMostItsShareAndBadValuesAreClamped()
    {
        var policy = new ReconnectPolicyDto(1_000, 10_000, 0.2);
        Assert.Equal(1_000, policy.DelayBefore(0, 0).TotalMilliseconds);
        Assert.Equal(800, policy.DelayBefore(0, 1).TotalMilliseconds);

        Assert.Equal(TimeSpan.Zero, new ReconnectPolicyDto(-5, -5, 3).DelayBefore(-1, 2));
        Assert.Equal(2_000, new ReconnectPolicyDto(2_000, 100, 0).DelayBefore(3, 0).TotalMilliseconds);
    }
}
