using System.Diagnostics;
using System.Text;

namespace CimAspire.Tests.Cli;

/// <summary>The <c>cim</c> console client as a child process, driven through standard input and read line by line.</summary>
public sealed class CimProcess : IAsyncDisposable
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);
    private readonly Process _process;
    private readonly Lock _lock = new();
    private readonly List<string> _lines = [];
    private readonly List<(Func<string, bool> Match, int From, TaskCompletionSource<string> Signal)> _waiters = [];

    private CimProcess(Process process) => _process = process;

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lock)
            {
                return _lines.ToList();
            }
        }
    }

    public int LineCount
    {
        get
        {
            lock (_lock)
            {
                return _lines.Count;
            }
        }
    }

    public static CimProcess Start(params string[] arguments)
    {
        var cim = Path.Combine(AppContext.BaseDirectory, "cim.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            StandardInputEncoding = new UTF8Encoding(false),
        };
        info.ArgumentList.Add(cim);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // The parent's settings must not leak in: these tests pass everything on the command line.
        info.Environment.Remove("CIM_ROUTE");
        info.Environment.Remove("CIM_USER");
        info.Environment.Remove("CIM_PASSWORD");
        var process = new Process { StartInfo = info };
        var cimProcess = new CimProcess(process);
        process.OutputDataReceived += (_, e) => cimProcess.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => cimProcess.OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return cimProcess;
    }

    public async Task SendAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>Waits for a line (printed from now on, or from <paramref name="from"/>) containing <paramref name="text"/>.</summary>
    public Task<string> WaitForAsync(string text, int? from = null, TimeSpan? timeout = null) =>
        WaitForAsync(line => line.Contains(text, StringComparison.Ordinal), from, timeout, text);

    public Task<string> WaitForAsync(Func<string, bool> match, int? from = null, TimeSpan? timeout = null, string? what = null)
    {
        var signal = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            var start = from ?? 0;
            var found = _lines.Skip(start).FirstOrDefault(match);
            if (found is not null)
            {
                return Task.FromResult(found);
            }

            _waiters.Add((match, start, signal));
        }

        return WaitOrExplainAsync(signal.Task, timeout ?? DefaultTimeout, what);
    }

    /// <summary>Sends a line and waits for a line printed after it that contains <paramref name="expected"/>.</summary>
    public async Task<string> CommandAsync(string line, string expected)
    {
        var from = LineCount;
        await SendAsync(line);
        return await WaitForAsync(expected, from);
    }

    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        await _process.WaitForExitAsync().WaitAsync(timeout ?? DefaultTimeout);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(DefaultTimeout);
        }

        _process.Dispose();
    }

    private async Task<string> WaitOrExplainAsync(Task<string> wait, TimeSpan timeout, string? what)
    {
        try
        {
            return await wait.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"cim did not print '{what}' in time. Output so far:\n{string.Join('\n', Lines)}");
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lock)
        {
            _lines.Add(line);
            var index = _lines.Count - 1;
            foreach (var waiter in _waiters.Where(w => index >= w.From && w.Match(line)).ToList())
            {
                _waiters.Remove(waiter);
                waiter.Signal.TrySetResult(line);
            }
        }
    }
}
