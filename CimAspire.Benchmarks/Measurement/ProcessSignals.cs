using System.Runtime.InteropServices;

namespace CimAspire.Benchmarks.Measurement;

/// <summary>POSIX signals to one process by id (SIGKILL for a crash, SIGSTOP/SIGCONT for a long pause).</summary>
public static partial class ProcessSignals
{
    public const int SigKill = 9;
    public const int SigCont = 18;
    public const int SigStop = 19;

    public static void Send(int processId, int signal)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(processId, 1);
        if (Kill(processId, signal) != 0)
        {
            throw new InvalidOperationException($"Signal {signal} to process {processId} failed (errno {Marshal.GetLastPInvokeError()}).");
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int sig);
}

/// <summary>Which process listens on a TCP port, from /proc (to map an IM server's advertised port to its process).</summary>
public static class ProcessSockets
{
    public static bool ListensOn(int processId, int port)
    {
        var inodes = ListeningInodes(port);
        if (inodes.Count == 0)
        {
            return false;
        }

        try
        {
            foreach (var fd in Directory.EnumerateFiles($"/proc/{processId}/fd"))
            {
                var target = new FileInfo(fd).LinkTarget;
                if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal)
                    && inodes.Contains(target["socket:[".Length..^1]))
                {
                    return true;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return false;
    }

    private static HashSet<string> ListeningInodes(int port)
    {
        var result = new HashSet<string>();
        var hexPort = port.ToString("X4", System.Globalization.CultureInfo.InvariantCulture);
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table))
            {
                continue;
            }

            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                // f[1] local address:port, f[3] state (0A = LISTEN), f[9] inode.
                if (f.Length > 9 && f[3] == "0A" && f[1].EndsWith(":" + hexPort, StringComparison.Ordinal))
                {
                    result.Add(f[9]);
                }
            }
        }

        return result;
    }
}

/// <summary>
/// The service process behind an orchestrator's process id: Aspire may start a project through <c>dotnet run</c>,
/// whose child is the service; figures and faults must be about the child.
/// </summary>
public static class ProcessTree
{
    public static int Service(int processId)
    {
        var current = processId;
        for (var depth = 0; depth < 3; depth++)
        {
            var children = Children(current);
            if (children.Count == 0)
            {
                return current;
            }

            current = children.OrderByDescending(c => ProcessSampler.ReadRss(c) ?? 0).First();
        }

        return current;
    }

    public static IReadOnlyList<int> Children(int processId)
    {
        var result = new List<int>();
        try
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{processId}/task"))
            {
                var text = File.ReadAllText(Path.Combine(task, "children"));
                foreach (var part in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    if (int.TryParse(part, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var child))
                    {
                        result.Add(child);
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return result;
    }
}
