using System.Globalization;

namespace CimAspire.Benchmarks.Measurement;

/// <summary>A process whose CPU time and memory a scenario reports.</summary>
public sealed record WatchedProcess(string Name, int ProcessId);

/// <summary>CPU time and memory of one process over a scenario.</summary>
public sealed record ProcessUsage(
    string Name,
    int ProcessId,
    double CpuSeconds,
    double CpuPercentOfOneCore,
    long PeakRssBytes,
    long EndRssBytes,
    bool ExitedDuringRun);

/// <summary>
/// Samples processes from /proc while a scenario runs: CPU time (utime + stime) as the difference between start and
/// end, and the highest resident set size seen (sampled, because VmHWM is a lifetime peak and servers outlive a scenario).
/// On systems without /proc the figures stay zero.
/// </summary>
public sealed class ProcessSampler : IAsyncDisposable
{
    private static readonly double TicksPerSecond = 100.0; // USER_HZ is 100 on every Linux ABI .NET runs on
    private readonly Dictionary<int, Sample> _samples = [];
    private readonly IReadOnlyList<WatchedProcess> _processes;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly DateTime _started = DateTime.UtcNow;

    private ProcessSampler(IReadOnlyList<WatchedProcess> processes, TimeSpan interval)
    {
        _processes = processes;
        foreach (var p in processes)
        {
            var cpu = ReadCpuTicks(p.ProcessId);
            _samples[p.ProcessId] = new Sample { StartTicks = cpu ?? 0, LastTicks = cpu ?? 0, PeakRss = ReadRss(p.ProcessId) ?? 0, Alive = cpu is not null };
        }

        _loop = LoopAsync(interval, _stop.Token);
    }

    /// <summary>Samples the given processes and the harness itself (the load generator shares the machine).</summary>
    public static ProcessSampler Start(IReadOnlyList<WatchedProcess> processes, TimeSpan? interval = null) =>
        new([.. processes, new WatchedProcess("harness", Environment.ProcessId)], interval ?? TimeSpan.FromMilliseconds(200));

    public async Task<IReadOnlyList<ProcessUsage>> StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        var wall = (DateTime.UtcNow - _started).TotalSeconds;
        SampleOnce();
        var result = new List<ProcessUsage>();
        lock (_samples)
        {
            foreach (var p in _processes)
            {
                var s = _samples[p.ProcessId];
                var cpu = (s.LastTicks - s.StartTicks) / TicksPerSecond;
                result.Add(new ProcessUsage(p.Name, p.ProcessId, cpu, wall > 0 ? 100 * cpu / wall : 0, s.PeakRss, s.EndRss, s.Exited));
            }
        }

        return result;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync();
        }

        await _loop;
        _stop.Dispose();
    }

    private async Task LoopAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                SampleOnce();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void SampleOnce()
    {
        lock (_samples)
        {
            foreach (var p in _processes)
            {
                var s = _samples[p.ProcessId];
                var cpu = ReadCpuTicks(p.ProcessId);
                var rss = ReadRss(p.ProcessId);
                if (cpu is null || rss is null)
                {
                    s.Exited |= s.Alive;
                    continue;
                }

                s.LastTicks = cpu.Value;
                s.EndRss = rss.Value;
                s.PeakRss = Math.Max(s.PeakRss, rss.Value);
            }
        }
    }

    /// <summary>Whether the process exists and is not a zombie (a killed child its parent has not reaped yet).</summary>
    public static bool IsRunning(int processId)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{processId}/stat");
            var state = stat[stat.LastIndexOf(')') + 2];
            return state is not ('Z' or 'X');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or IndexOutOfRangeException)
        {
            return false;
        }
    }

    /// <summary>utime + stime of a process in clock ticks, or null when it is gone.</summary>
    public static long? ReadCpuTicks(int processId)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{processId}/stat");
            // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
            return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>Resident set size in bytes, or null when the process is gone.</summary>
    public static long? ReadRss(int processId)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{processId}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                    return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
                }
            }

            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    private sealed class Sample
    {
        public long StartTicks;
        public long LastTicks;
        public long PeakRss;
        public long EndRss;
        public bool Alive;
        public bool Exited;
    }
}
