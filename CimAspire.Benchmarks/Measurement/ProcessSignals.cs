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
