using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace CimAspire.Tests.Infrastructure;

/// <summary>
/// A real ZooKeeper server (the Debian 3.8 jars, run with java directly) on a free loopback port with its own data
/// folder, tickTime 1000 ms (so sessions may last 2 to 20 s). It can be stopped and started again on the same port and
/// data (sessions survive that). Dispose stops it and removes the folder.
/// </summary>
public sealed class ZooKeeperProcess : IAsyncDisposable
{
    /// <summary>Overrides the class path (default: the Debian package's jar, whose manifest names its dependencies).</summary>
    public const string ClassPathVariable = "CIM_ZOOKEEPER_CLASSPATH";

    private const string DefaultClassPath = "/usr/share/java/zookeeper.jar";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(45);

    private readonly string _configPath;
    private readonly bool _ensembleMember;
    private readonly StringBuilder _output = new();
    private Process? _process;

    private ZooKeeperProcess(int port, string dataDirectory, string configPath, bool ensembleMember)
    {
        Port = port;
        DataDirectory = dataDirectory;
        _configPath = configPath;
        _ensembleMember = ensembleMember;
    }

    public int Port { get; }

    public string DataDirectory { get; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Starts a standalone server and waits until it serves requests.</summary>
    public static async Task<ZooKeeperProcess> StartAsync(CancellationToken cancellationToken = default)
    {
        var folder = Directory.CreateTempSubdirectory("cim-zk-").FullName;
        var port = TestPorts.GetFreePort();
        var server = Create(folder, port, extraConfig: "", ensembleMember: false);
        try
        {
            await server.StartAgainAsync(cancellationToken);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    internal static ZooKeeperProcess Create(string folder, int port, string extraConfig, bool ensembleMember)
    {
        var dataDirectory = Path.Combine(folder, "data");
        Directory.CreateDirectory(dataDirectory);
        var configPath = Path.Combine(folder, "zoo.cfg");
        File.WriteAllText(configPath, string.Join('\n',
            "tickTime=1000",
            "initLimit=10",
            "syncLimit=5",
            $"dataDir={dataDirectory}",
            $"clientPort={port.ToString(CultureInfo.InvariantCulture)}",
            "clientPortAddress=127.0.0.1",
            "maxClientCnxns=0",
            "admin.enableServer=false",
            "4lw.commands.whitelist=ruok,srvr,stat,cons,dump,wchc,wchp,mntr,conf",
            extraConfig,
            ""));
        return new ZooKeeperProcess(port, dataDirectory, configPath, ensembleMember);
    }

    /// <summary>(Re)starts the server on its port and data folder and waits until it serves requests.</summary>
    public async Task StartAgainAsync(CancellationToken cancellationToken = default)
    {
        Launch();
        await WaitUntilServingAsync(cancellationToken);
    }

    internal void Launch()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException("The ZooKeeper server is already running.");
        }

        var classPath = Environment.GetEnvironmentVariable(ClassPathVariable) is { Length: > 0 } custom ? custom : DefaultClassPath;
        var info = new ProcessStartInfo("java")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[]
        {
            // A small, quickly started JVM: tests start several of these on a shared 2-core machine.
            "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k",
            "-Dzookeeper.admin.enableServer=false", "-Dzookeeper.jmx.log4j.disable=true",
            "-cp", classPath, "org.apache.zookeeper.server.quorum.QuorumPeerMain", _configPath,
        })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("java did not start.");
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
    }

    /// <summary>Polls <c>srvr</c> until the server says it serves (standalone, leader or follower).</summary>
    internal async Task WaitUntilServingAsync(CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(StartTimeout);
        try
        {
            while (true)
            {
                if (_process is not { HasExited: false })
                {
                    throw new InvalidOperationException($"The ZooKeeper server exited early. Output:\n{Output}");
                }

                var status = await TrySendCommandAsync("srvr", deadline.Token);
                if (status is not null && status.Contains("Mode: ", StringComparison.Ordinal)
                    && (!_ensembleMember || !status.Contains("Mode: standalone", StringComparison.Ordinal)))
                {
                    return;
                }

                await Task.Delay(100, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"ZooKeeper on port {Port} did not serve within {StartTimeout}. Output:\n{Output}");
        }
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Sends a four-letter-word command (srvr, dump, cons...) and returns the answer, or null if it cannot connect.</summary>
    public async Task<string?> TrySendCommandAsync(string command, CancellationToken cancellationToken = default)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", Port, cancellationToken);
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(command), cancellationToken);
            using var reader = new StreamReader(stream, Encoding.ASCII);
            return await reader.ReadToEndAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
        }
        catch (Exception ex) when (ex is SocketException or IOException or TimeoutException)
        {
            return null;
        }
    }

    /// <summary>Stops the server abruptly (SIGKILL), keeping its data so it can be started again.</summary>
    public async Task StopAsync()
    {
        if (_process is { } process)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(15));
            process.Dispose();
            _process = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(Path.GetDirectoryName(DataDirectory)!, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < 64 * 1024)
            {
                _output.AppendLine(line);
            }
        }
    }
}

/// <summary>Three local ZooKeeper servers forming one ensemble (quorum and election ports on loopback).</summary>
public sealed class ZooKeeperEnsemble : IAsyncDisposable
{
    private ZooKeeperEnsemble(IReadOnlyList<ZooKeeperProcess> members)
    {
        Members = members;
    }

    public IReadOnlyList<ZooKeeperProcess> Members { get; }

    /// <summary>Every member, comma-separated.</summary>
    public string ConnectionString => string.Join(',', Members.Select(m => m.ConnectionString));

    public static async Task<ZooKeeperEnsemble> StartAsync(int size = 3, CancellationToken cancellationToken = default)
    {
        var clientPorts = Enumerable.Range(0, size).Select(_ => TestPorts.GetFreePort()).ToArray();
        var servers = string.Join('\n', Enumerable.Range(0, size).Select(i =>
            $"server.{i + 1}=127.0.0.1:{TestPorts.GetFreePort()}:{TestPorts.GetFreePort()}"));
        var members = new List<ZooKeeperProcess>();
        var ensemble = new ZooKeeperEnsemble(members);
        try
        {
            for (var i = 0; i < size; i++)
            {
                var folder = Directory.CreateTempSubdirectory($"cim-zk{i + 1}-").FullName;
                var member = ZooKeeperProcess.Create(folder, clientPorts[i], servers, ensembleMember: true);
                File.WriteAllText(Path.Combine(member.DataDirectory, "myid"), (i + 1).ToString(CultureInfo.InvariantCulture));
                members.Add(member);
            }

            foreach (var member in members)
            {
                member.Launch();
            }

            await Task.WhenAll(members.Select(m => m.WaitUntilServingAsync(cancellationToken)));
        }
        catch
        {
            await ensemble.DisposeAsync();
            throw;
        }

        return ensemble;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var member in Members)
        {
            await member.DisposeAsync();
        }
    }
}
