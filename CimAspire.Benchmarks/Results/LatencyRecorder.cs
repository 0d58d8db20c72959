namespace CimAspire.Benchmarks.Results;

/// <summary>
/// A thread-safe log-linear histogram of latencies in microseconds, in the spirit of HdrHistogram: values below
/// 1,024 are counted exactly, larger ones in buckets whose width is 1/512 of their magnitude (relative error under 0.2%),
/// so a percentile costs no sorting and recording costs one interlocked increment.
/// </summary>
public sealed class LatencyRecorder
{
    private const int LinearBits = 10;
    private const int LinearCount = 1 << LinearBits;       // 0..1023 exact
    private const int SubBucketBits = LinearBits - 1;
    private const int SubBucketCount = 1 << SubBucketBits;  // 512 buckets per power of two above the linear range
    private const int MaxExponent = 62;
    private static readonly int BucketCount = LinearCount + ((MaxExponent - LinearBits + 1) * SubBucketCount);

    private readonly long[] _counts = new long[BucketCount];
    private long _total;
    private long _max;
    private long _min = long.MaxValue;
    private long _sum;

    public long Count => Volatile.Read(ref _total);

    public long MaxMicroseconds => Count == 0 ? 0 : Volatile.Read(ref _max);

    public long MinMicroseconds => Count == 0 ? 0 : Volatile.Read(ref _min);

    public double MeanMicroseconds => Count == 0 ? 0 : (double)Volatile.Read(ref _sum) / Count;

    public void Record(long microseconds)
    {
        if (microseconds < 0)
        {
            microseconds = 0;
        }

        Interlocked.Increment(ref _counts[IndexOf(microseconds)]);
        Interlocked.Increment(ref _total);
        Interlocked.Add(ref _sum, microseconds);
        UpdateMax(microseconds);
        UpdateMin(microseconds);
    }

    /// <summary>Records the time elapsed since a <see cref="System.Diagnostics.Stopwatch.GetTimestamp"/> value.</summary>
    public void RecordSince(long stopwatchTimestamp) =>
        Record((long)System.Diagnostics.Stopwatch.GetElapsedTime(stopwatchTimestamp).TotalMicroseconds);

    /// <summary>The smallest recorded-bucket upper bound at or below which <paramref name="percentile"/> % of the values lie.</summary>
    public long ValueAtPercentile(double percentile)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(percentile, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percentile, 100);
        var total = Count;
        if (total == 0)
        {
            return 0;
        }

        // The small tolerance keeps 99.9 % of 1,000 at rank 999 despite binary floating point.
        var rank = Math.Max(1, (long)Math.Ceiling((percentile * total / 100.0) - 1e-9));
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += Volatile.Read(ref _counts[i]);
            if (seen >= rank)
            {
                return Math.Min(HighestEquivalentValue(i), MaxMicroseconds);
            }
        }

        return MaxMicroseconds;
    }

    public void Add(LatencyRecorder other)
    {
        ArgumentNullException.ThrowIfNull(other);
        for (var i = 0; i < _counts.Length; i++)
        {
            var c = Volatile.Read(ref other._counts[i]);
            if (c != 0)
            {
                Interlocked.Add(ref _counts[i], c);
            }
        }

        if (other.Count > 0)
        {
            Interlocked.Add(ref _total, other.Count);
            Interlocked.Add(ref _sum, Volatile.Read(ref other._sum));
            UpdateMax(other.MaxMicroseconds);
            UpdateMin(other.MinMicroseconds);
        }
    }

    public LatencySummary Summarize() => new(
        Count,
        ValueAtPercentile(50) / 1000.0,
        ValueAtPercentile(99) / 1000.0,
        ValueAtPercentile(99.9) / 1000.0,
        MaxMicroseconds / 1000.0,
        MeanMicroseconds / 1000.0);

    public static int IndexOf(long value)
    {
        if (value < LinearCount)
        {
            return (int)value;
        }

        var exponent = 63 - (int)long.LeadingZeroCount(value); // >= LinearBits
        var sub = (int)(value >> (exponent - SubBucketBits)) - SubBucketCount; // the next 9 bits below the top one
        return LinearCount + ((exponent - LinearBits) * SubBucketCount) + sub;
    }

    public static long HighestEquivalentValue(int index)
    {
        if (index < LinearCount)
        {
            return index;
        }

        var rest = index - LinearCount;
        var exponent = (rest / SubBucketCount) + LinearBits;
        var sub = rest % SubBucketCount;
        var shift = exponent - SubBucketBits;
        var lowest = (long)(SubBucketCount + sub) << shift;
        return lowest + (1L << shift) - 1;
    }

    private void UpdateMax(long value)
    {
        var current = Volatile.Read(ref _max);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref _max, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    private void UpdateMin(long value)
    {
        var current = Volatile.Read(ref _min);
        while (value < current)
        {
            var seen = Interlocked.CompareExchange(ref _min, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}

/// <summary>Latency figures in milliseconds.</summary>
public sealed record LatencySummary(long Count, double P50Ms, double P99Ms, double P999Ms, double MaxMs, double MeanMs);
