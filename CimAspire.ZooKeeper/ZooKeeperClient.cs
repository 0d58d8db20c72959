using System.Diagnostics;
using System.Net;
using System.Threading.Channels;
using CimAspire.ZooKeeper.Client;
using CimAspire.ZooKeeper.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CimAspire.ZooKeeper;

/// <summary>
/// An asynchronous ZooKeeper client speaking the 3.8/3.9 wire protocol. It keeps one session alive across connection
/// losses (resuming it on the same or another ensemble member and restoring watches with setWatches), and when the session
/// expires it opens a new one and says so through <see cref="StateChanged"/> (<see cref="ZooKeeperStateChange.IsNewSession"/>),
/// so owners can re-create ephemeral nodes and watches. Watch callbacks and state events run in order on one dispatcher,
/// never on the socket loop; they must not block on further ZooKeeper calls.
/// </summary>
public sealed class ZooKeeperClient : IAsyncDisposable, IConnectionOwner
{
    private const int SetWatchesMaxPathBytes = 128 * 1024;

    /// <summary>The server's default jute.maxbuffer: a longer request makes it drop the connection, so refuse it here.</summary>
    private const int ServerMaxRequestBytes = 0xfffff;
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(3);

    private readonly ZooKeeperClientOptions _options;
    private readonly ZooKeeperConnectionString _connectionString;
    private readonly ILogger _logger;
    private readonly object _sync = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Channel<Action> _dispatch = Channel.CreateUnbounded<Action>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<string, HashSet<Action<WatchedEvent>>> _dataWatches = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<Action<WatchedEvent>>> _existWatches = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<Action<WatchedEvent>>> _childWatches = new(StringComparer.Ordinal);

    private TaskCompletionSource _connectedSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ZooKeeperConnection? _connection;
    private Task? _loop;
    private Task? _dispatcher;
    private bool _closeRequested;
    private int _xid;
    private long _lastZxid;
    private long _sessionId;
    private byte[] _password = new byte[Records.PasswordLength];
    private int _negotiatedTimeoutMs;
    private long _lastHeard;

    /// <summary>Creates a client; nothing happens on the network until <see cref="Start"/> or <see cref="ConnectAsync"/>.</summary>
    /// <exception cref="FormatException">The connection string is malformed.</exception>
    public ZooKeeperClient(ZooKeeperClientOptions options, ILogger<ZooKeeperClient>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _connectionString = ZooKeeperConnectionString.Parse(options.ConnectionString);
        _logger = logger ?? NullLogger<ZooKeeperClient>.Instance;
    }

    /// <summary>Raised (on the dispatcher) on every state change.</summary>
    public event Action<ZooKeeperStateChange>? StateChanged;

    /// <summary>The current state.</summary>
    public ZooKeeperConnectionState State { get; private set; } = ZooKeeperConnectionState.Disconnected;

    /// <summary>The current session id, 0 before the first session.</summary>
    public long SessionId
    {
        get
        {
            lock (_sync)
            {
                return _sessionId;
            }
        }
    }

    /// <summary>A copy of the session password (for diagnostics and tests; never share it with another process).</summary>
    public byte[] SessionPassword
    {
        get
        {
            lock (_sync)
            {
                return (byte[])_password.Clone();
            }
        }
    }

    /// <summary>The session timeout the server granted (zero before the first session).</summary>
    public TimeSpan SessionTimeout => TimeSpan.FromMilliseconds(Volatile.Read(ref _negotiatedTimeoutMs));

    /// <summary>The ensemble member the client is connected to, or null.</summary>
    public DnsEndPoint? ConnectedServer => Volatile.Read(ref _connection)?.EndPoint;

    /// <summary>The chroot every path is relative to, or null.</summary>
    public string? Chroot => _connectionString.Chroot;

    /// <summary>Starts connecting in the background (idempotent).</summary>
    public void Start()
    {
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_closeRequested, this);
            if (_loop is not null)
            {
                return;
            }

            _dispatcher = Task.Run(DispatchLoopAsync);
            _loop = Task.Run(RunAsync);
        }
    }

    /// <summary>Starts the client and waits until it is connected.</summary>
    public async Task ConnectAsync(CancellationToken cancellationToken = default)
    {
        Start();
        await WaitUntilConnectedAsync(cancellationToken);
    }

    /// <summary>Waits until the client is connected (for as long as <paramref name="cancellationToken"/> allows).</summary>
    public async Task WaitUntilConnectedAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Task signal;
            lock (_sync)
            {
                ObjectDisposedException.ThrowIf(_closeRequested, this);
                if (_connection is not null)
                {
                    return;
                }

                signal = _connectedSignal.Task;
            }

            await signal.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Creates a node with world-readable/writable ACL and returns its path (with the sequence suffix, if any).</summary>
    /// <exception cref="ZooKeeperException">NodeExists, NoNode (missing parent), NoChildrenForEphemerals, ConnectionLoss...</exception>
    public Task<string> CreateAsync(string path, ReadOnlyMemory<byte> data, CreateMode mode = CreateMode.Persistent, CancellationToken cancellationToken = default)
    {
        PathValidation.Validate(path, nameof(path), sequential: mode is CreateMode.PersistentSequential or CreateMode.EphemeralSequential);
        if (!Enum.IsDefined(mode))
        {
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown create mode.");
        }

        var request = Records.Create(ToServerPath(path), data.Span, mode);
        return SendAsync(OpCode.Create2, path, request, (ZooKeeperErrorCode code, ref JuteReader reader) =>
        {
            ThrowIfError(code, path);
            return ToClientPath(Records.ReadCreate2Response(ref reader).Path);
        }, cancellationToken);
    }

    /// <summary>Creates every missing persistent node on the way to <paramref name="path"/> (and the path itself).</summary>
    public async Task EnsurePathAsync(string path, CancellationToken cancellationToken = default)
    {
        PathValidation.Validate(path, nameof(path));
        var end = 0;
        while (end < path.Length)
        {
            end = path.IndexOf('/', end + 1);
            if (end < 0)
            {
                end = path.Length;
            }

            try
            {
                await CreateAsync(path[..end], ReadOnlyMemory<byte>.Empty, CreateMode.Persistent, cancellationToken);
            }
            catch (ZooKeeperException ex) when (ex.Code == ZooKeeperErrorCode.NodeExists)
            {
            }
        }
    }

    /// <summary>Deletes a node; <paramref name="version"/> -1 matches any version.</summary>
    /// <exception cref="ZooKeeperException">NoNode, BadVersion, NotEmpty, ConnectionLoss...</exception>
    public Task DeleteAsync(string path, int version = -1, CancellationToken cancellationToken = default)
    {
        PathValidation.Validate(path, nameof(path));
        var request = Records.Delete(ToServerPath(path), version);
        return SendAsync(OpCode.Delete, path, request, (ZooKeeperErrorCode code, ref JuteReader _) =>
        {
            ThrowIfError(code, path);
            return true;
        }, cancellationToken);
    }

    /// <summary>
    /// The node's Stat, or null if it does not exist. With a <paramref name="watcher"/> a one-shot watch is set either way:
    /// it fires NodeCreated for a missing node, NodeDataChanged or NodeDeleted for an existing one.
    /// </summary>
    public Task<ZNodeStat?> ExistsAsync(string path, Action<WatchedEvent>? watcher = null, CancellationToken cancellationToken = default)
    {
        PathValidation.Validate(path, nameof(path));
        var request = Records.PathAndWatch(OpCode.Exists, ToServerPath(path), watcher is not null);
        return SendAsync(OpCode.Exists, path, request, (ZooKeeperErrorCode code, ref JuteReader reader) =>
        {
            if (code == ZooKeeperErrorCode.NoNode)
            {
                AddWatch(_existWatches, path, watcher);
                return null;
            }

            ThrowIfError(code, path);
            var stat = Records.ReadStat(ref reader);
            AddWatch(_dataWatches, path, watcher);
            return (ZNodeStat?)stat;
        }, cancellationToken);
    }

    /// <summary>The node's data and Stat; a <paramref name="watcher"/> fires once on NodeDataChanged or NodeDeleted.</summary>
    /// <exception cref="ZooKeeperException">NoNode (and then no watch is set), ConnectionLoss...</exception>
    public Task<ZNodeData> GetDataAsync(string path, Action<WatchedEvent>? watcher = null, CancellationToken cancellationToken = default)
    {
        PathValidation.Validate(path, nameof(path));
        var request = Records.PathAndWatch(OpCode.GetData, ToServerPath(path), watcher is not null);
        return SendAsync(OpCode.GetData, path, request, (ZooKeeperErrorCode code, ref JuteReader reader) =>
        {
            ThrowIfError(code, path);
            var data = Records.ReadGetDataResponse(ref reader);
            AddWatch(_dataWatches, path, watcher);
            return data;
        }, cancellationToken);
    }

    /// <summary>Replaces the node's data if its version matches (-1 = any) and returns the new Stat.</summary>
    /// <exception cref="ZooKeeperException">NoNode, BadVersion, ConnectionLoss...</exception>
    public Task<ZNodeStat> SetDataAsync(string path, ReadOnlyMemory<byte> data, int version = -1, CancellationToken cancellationToken = default)
    {
        PathValidation.Validate(path, nameof(path));
        var request = Records.SetData(ToServerPath(path), data.Span, version);
        return SendAsync(OpCode.SetData, path, request, (ZooKeeperErrorCode code, ref JuteReader reader) =>
        {
            ThrowIfError(code, path);
            return Records.ReadStat(ref reader);
        }, cancellationToken);
    }

    /// <summary>
    /// The names of the node's children, sorted ordinally. A <paramref name="watcher"/> fires once on NodeChildrenChanged
    /// or on NodeDeleted of the node itself.
    /// </summary>
    /// <exception cref="ZooKeeperException">NoNode (and then no watch is set), ConnectionLoss...</exception>
    public Task<IReadOnlyList<string>> GetChildrenAsync(string path, Action<WatchedEvent>? watcher = null, CancellationToken cancellationToken = default)
    {
        PathValidation.Validate(path, nameof(path));
        var request = Records.PathAndWatch(OpCode.GetChildren2, ToServerPath(path), watcher is not null);
        return SendAsync(OpCode.GetChildren2, path, request, (ZooKeeperErrorCode code, ref JuteReader reader) =>
        {
            ThrowIfError(code, path);
            var (children, _) = Records.ReadGetChildren2Response(ref reader);
            AddWatch(_childWatches, path, watcher);
            children.Sort(StringComparer.Ordinal);
            return (IReadOnlyList<string>)children;
        }, cancellationToken);
    }

    /// <summary>
    /// Ends the session (the server deletes its ephemeral nodes at once) and stops reconnecting. Idempotent.
    /// If no server answers in time the session is left to expire on the server.
    /// </summary>
    public async Task CloseAsync(CancellationToken cancellationToken = default)
    {
        ZooKeeperConnection? connection;
        Task? loop;
        long sessionId;
        lock (_sync)
        {
            if (_closeRequested)
            {
                return;
            }

            _closeRequested = true;
            connection = _connection;
            loop = _loop;
            sessionId = _sessionId;
            _connectedSignal.TrySetException(new ObjectDisposedException(nameof(ZooKeeperClient)));
        }

        if (connection is not null)
        {
            try
            {
                var pending = new PendingRequest<bool>(OpCode.CloseSession, null, (ZooKeeperErrorCode code, ref JuteReader _) =>
                {
                    ThrowIfError(code, null);
                    return true;
                });
                await connection.SendAsync(Records.CloseSession(), pending).WaitAsync(CloseTimeout, cancellationToken);
                Log.Closed(_logger, sessionId);
            }
            catch (Exception ex) when (ex is ZooKeeperException or TimeoutException or OperationCanceledException)
            {
                Log.CloseSessionFailed(_logger, sessionId, ex);
            }
        }

        _stopping.Cancel();
        connection?.Fail(new ObjectDisposedException(nameof(ZooKeeperClient)));
        if (loop is not null)
        {
            await loop.WaitAsync(CloseTimeout, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        lock (_sync)
        {
            _connection = null;
            ClearWatches();
        }

        SetState(ZooKeeperConnectionState.Closed, sessionId, false, "Closed by its owner.");
        _dispatch.Writer.TryComplete();
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await CloseAsync();
    }

    int IConnectionOwner.NextXid()
    {
        // Normal xids are 1..int.MaxValue and wrap to 1: 0 and negatives are reserved (ZOOKEEPER-3253).
        _xid = _xid == int.MaxValue ? 1 : _xid + 1;
        return _xid;
    }

    void IConnectionOwner.OnZxid(long zxid)
    {
        lock (_sync)
        {
            if (zxid > _lastZxid)
            {
                _lastZxid = zxid;
            }
        }
    }

    void IConnectionOwner.OnNotification(int type, string serverPath)
    {
        var path = ToClientPath(serverPath);
        var eventType = (WatchEventType)type;
        var fired = new List<Action<WatchedEvent>>();
        lock (_sync)
        {
            switch (eventType)
            {
                case WatchEventType.NodeCreated:
                case WatchEventType.NodeDataChanged:
                    TakeWatches(_dataWatches, path, fired);
                    TakeWatches(_existWatches, path, fired);
                    break;
                case WatchEventType.NodeChildrenChanged:
                    TakeWatches(_childWatches, path, fired);
                    break;
                case WatchEventType.NodeDeleted:
                    TakeWatches(_dataWatches, path, fired);
                    TakeWatches(_existWatches, path, fired);
                    TakeWatches(_childWatches, path, fired);
                    break;
                default:
                    // Types 5-7 are client-side only and persistent watches are never set by this client: nothing to fire.
                    return;
            }
        }

        var watchedEvent = new WatchedEvent(eventType, path);
        foreach (var watcher in fired.Distinct())
        {
            _dispatch.Writer.TryWrite(() => watcher(watchedEvent));
        }
    }

    private static void TakeWatches(Dictionary<string, HashSet<Action<WatchedEvent>>> table, string path, List<Action<WatchedEvent>> into)
    {
        if (table.Remove(path, out var watchers))
        {
            into.AddRange(watchers);
        }
    }

    private static void ThrowIfError(ZooKeeperErrorCode code, string? path)
    {
        if (code != ZooKeeperErrorCode.Ok)
        {
            throw new ZooKeeperException(code, path);
        }
    }

    private void AddWatch(Dictionary<string, HashSet<Action<WatchedEvent>>> table, string path, Action<WatchedEvent>? watcher)
    {
        if (watcher is null)
        {
            return;
        }

        lock (_sync)
        {
            if (!table.TryGetValue(path, out var watchers))
            {
                table[path] = watchers = [];
            }

            watchers.Add(watcher);
        }
    }

    private void ClearWatches()
    {
        _dataWatches.Clear();
        _existWatches.Clear();
        _childWatches.Clear();
    }

    private string ToServerPath(string path)
    {
        var chroot = _connectionString.Chroot;
        if (chroot is null)
        {
            return path;
        }

        return path == "/" ? chroot : chroot + path;
    }

    private string ToClientPath(string serverPath)
    {
        var chroot = _connectionString.Chroot;
        if (chroot is null || !serverPath.StartsWith(chroot, StringComparison.Ordinal))
        {
            return serverPath;
        }

        if (serverPath.Length == chroot.Length)
        {
            return "/";
        }

        return serverPath[chroot.Length] == '/' ? serverPath[chroot.Length..] : serverPath;
    }

    private async Task<T> SendAsync<T>(OpCode op, string path, JuteWriter request, ReplyParser<T> parser, CancellationToken cancellationToken)
    {
        if (request.PayloadLength > ServerMaxRequestBytes)
        {
            throw new ArgumentException(
                $"The {op} request for {path} is {request.PayloadLength} bytes; ZooKeeper servers refuse more than {ServerMaxRequestBytes} (jute.maxbuffer).");
        }

        using var activity = ZooKeeperTelemetry.ActivitySource.StartActivity($"zookeeper {op}", ActivityKind.Client);
        activity?.SetTag("db.system.name", "zookeeper");
        activity?.SetTag("zookeeper.path", path);
        var started = Stopwatch.GetTimestamp();
        var outcome = "ok";
        try
        {
            var connection = await WaitForConnectionAsync(path, cancellationToken);
            var pending = new PendingRequest<T>(op, path, parser);
            return await connection.SendAsync(request, pending).WaitAsync(cancellationToken);
        }
        catch (ZooKeeperException ex)
        {
            outcome = ex.Code.ToString();
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            throw;
        }
        catch (Exception ex)
        {
            outcome = ex.GetType().Name;
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            throw;
        }
        finally
        {
            var tags = new TagList { { "zookeeper.op", op.ToString() }, { "outcome", outcome } };
            ZooKeeperTelemetry.Operations.Add(1, tags);
            ZooKeeperTelemetry.OperationDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        }
    }

    /// <summary>Waits for a live connection for up to the session timeout, then gives up with ConnectionLoss.</summary>
    private async Task<ZooKeeperConnection> WaitForConnectionAsync(string path, CancellationToken cancellationToken)
    {
        Start();
        var deadline = Stopwatch.GetTimestamp() + (long)(_options.SessionTimeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            Task signal;
            lock (_sync)
            {
                ObjectDisposedException.ThrowIf(_closeRequested, this);
                if (_connection is not null)
                {
                    return _connection;
                }

                signal = _connectedSignal.Task;
            }

            var left = TimeSpan.FromSeconds((double)(deadline - Stopwatch.GetTimestamp()) / Stopwatch.Frequency);
            try
            {
                await signal.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, cancellationToken);
            }
            catch (TimeoutException ex)
            {
                throw new ZooKeeperException(ZooKeeperErrorCode.ConnectionLoss, path, $"Not connected to ZooKeeper within {_options.SessionTimeout.TotalSeconds:0.#} s.", ex);
            }
        }
    }

    /// <summary>The session loop: connect, serve until the connection ends, reconnect (or open a new session after expiry).</summary>
    private async Task RunAsync()
    {
        var hosts = _connectionString.Hosts.ToArray();
        Random.Shared.Shuffle(hosts);
        var hostIndex = 0;
        var failedInCycle = 0;
        var firstAttempt = true;
        var token = _stopping.Token;
        while (!token.IsCancellationRequested && !_closeRequested)
        {
            try
            {
                if (!firstAttempt)
                {
                    var pause = failedInCycle >= hosts.Length ? _options.ReconnectDelay : _options.ReconnectDelay * Random.Shared.NextDouble();
                    if (failedInCycle >= hosts.Length)
                    {
                        failedInCycle = 0;
                    }

                    await Task.Delay(pause, token);
                }

                firstAttempt = false;
                ExpireIfSilentTooLong();
                var host = hosts[hostIndex];
                hostIndex = (hostIndex + 1) % hosts.Length;
                var connection = await TryConnectAsync(host, hosts.Length, token);
                if (connection is null)
                {
                    failedInCycle++;
                    continue;
                }

                failedInCycle = 0;
                var reason = await connection.Closed;
                OnConnectionEnded(connection, reason);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Whatever went wrong with one attempt, the session loop must keep going: a dead loop would hang every caller.
                Log.ConnectFailed(_logger, "(session loop)", 0, ex);
            }
        }
    }

    /// <summary>One attempt on one host; returns the connection once it is serving, or null.</summary>
    private async Task<ZooKeeperConnection?> TryConnectAsync(DnsEndPoint host, int hostCount, CancellationToken token)
    {
        ConnectRequest request;
        int knownTimeoutMs;
        lock (_sync)
        {
            request = new ConnectRequest(_lastZxid, (int)_options.SessionTimeout.TotalMilliseconds, _sessionId, (byte[])_password.Clone());
            knownTimeoutMs = _sessionId != 0 ? _negotiatedTimeoutMs : request.TimeoutMs;
        }

        Log.Connecting(_logger, host.Host, host.Port, request.SessionId);
        var connectTimeout = TimeSpan.FromMilliseconds(Math.Max(knownTimeoutMs / hostCount, 500));
        ZooKeeperConnection connection;
        try
        {
            connection = await ZooKeeperConnection.OpenAsync(host, request, connectTimeout, _options.MaxFrameBytes, token);
        }
        catch (Exception ex) when (!token.IsCancellationRequested)
        {
            Log.ConnectFailed(_logger, host.Host, host.Port, ex);
            return null;
        }

        var handshake = connection.Handshake;
        if (handshake.TimeoutMs <= 0)
        {
            // The server says the session is gone: its ephemerals and watches with it. Start over with a new session.
            connection.Fail(new ZooKeeperException(ZooKeeperErrorCode.SessionExpired, null));
            ExpireSession("the server reported the session as expired");
            return null;
        }

        bool newSession;
        lock (_sync)
        {
            newSession = _sessionId != handshake.SessionId;
            _sessionId = handshake.SessionId;
            _password = handshake.Password;
            _negotiatedTimeoutMs = handshake.TimeoutMs;
            _lastHeard = Environment.TickCount64;
        }

        var timeout = TimeSpan.FromMilliseconds(handshake.TimeoutMs);
        var readTimeout = timeout * 2 / 3;
        var pingInterval = TimeSpan.FromMilliseconds(Math.Min(timeout.TotalMilliseconds / 3, 10_000));
        connection.Start(this, readTimeout, pingInterval);

        // Watches belong to the TCP connection on the server: re-arm them before any user request goes out.
        try
        {
            await RestoreWatchesAsync(connection).WaitAsync(readTimeout, token);
        }
        catch (Exception ex) when (!token.IsCancellationRequested)
        {
            Log.SetWatchesFailed(_logger, host.Host, host.Port, ex);
            connection.Fail(ex);
            OnConnectionEnded(connection, ex);
            return null;
        }

        lock (_sync)
        {
            if (_closeRequested)
            {
                connection.Fail(new ObjectDisposedException(nameof(ZooKeeperClient)));
                return connection;
            }

            // State first, so anyone released by the signal already sees Connected (the health check does).
            State = ZooKeeperConnectionState.Connected;
            _connection = connection;
            _connectedSignal.TrySetResult();
        }

        Log.Connected(_logger, host.Host, host.Port, handshake.SessionId, handshake.TimeoutMs, newSession);
        SetState(ZooKeeperConnectionState.Connected, handshake.SessionId, newSession, $"Connected to {host.Host}:{host.Port}.");
        return connection;
    }

    private async Task RestoreWatchesAsync(ZooKeeperConnection connection)
    {
        List<string> data, exist, child;
        long relativeZxid;
        lock (_sync)
        {
            data = [.. _dataWatches.Keys.Select(ToServerPath)];
            exist = [.. _existWatches.Keys.Select(ToServerPath)];
            child = [.. _childWatches.Keys.Select(ToServerPath)];
            relativeZxid = _lastZxid;
        }

        // Batches of at most 128 KiB of path bytes, as the Java client does (ZOOKEEPER-706).
        while (data.Count + exist.Count + child.Count > 0)
        {
            var budget = SetWatchesMaxPathBytes;
            var batchData = Take(data, ref budget);
            var batchExist = Take(exist, ref budget);
            var batchChild = Take(child, ref budget);
            var pending = new PendingRequest<bool>(OpCode.SetWatches, null, (ZooKeeperErrorCode code, ref JuteReader _) =>
            {
                ThrowIfError(code, null);
                return true;
            });
            await connection.SendAsync(Records.SetWatches(relativeZxid, batchData, batchExist, batchChild), pending);
        }

        static List<string> Take(List<string> from, ref int budget)
        {
            var taken = new List<string>();
            while (from.Count > 0 && (taken.Count == 0 || budget - from[^1].Length >= 0))
            {
                budget -= from[^1].Length;
                taken.Add(from[^1]);
                from.RemoveAt(from.Count - 1);
                if (budget <= 0)
                {
                    break;
                }
            }

            return taken;
        }
    }

    private void OnConnectionEnded(ZooKeeperConnection connection, Exception reason)
    {
        long sessionId;
        bool wasConnected;
        lock (_sync)
        {
            wasConnected = State == ZooKeeperConnectionState.Connected;
            if (_connection == connection)
            {
                _connection = null;
            }

            if (wasConnected && !_closeRequested)
            {
                State = ZooKeeperConnectionState.Disconnected;
            }

            if (_connectedSignal.Task.IsCompleted && !_closeRequested)
            {
                _connectedSignal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            _lastHeard = Math.Max(_lastHeard, connection.LastReceived);
            sessionId = _sessionId;
        }

        if (_closeRequested)
        {
            return;
        }

        Log.ConnectionLost(_logger, connection.EndPoint.Host, connection.EndPoint.Port, sessionId, reason);
        if (wasConnected)
        {
            SetState(ZooKeeperConnectionState.Disconnected, sessionId, false, reason.Message);
        }
    }

    /// <summary>
    /// Declares the session expired locally once no server has been heard from for 4/3 of the session timeout: the server
    /// has certainly expired it by then, so waiting for a reconnect to say so would only keep stale ephemerals in mind.
    /// </summary>
    private void ExpireIfSilentTooLong()
    {
        long silentMs;
        int timeoutMs;
        lock (_sync)
        {
            if (_sessionId == 0)
            {
                return;
            }

            silentMs = Environment.TickCount64 - _lastHeard;
            timeoutMs = _negotiatedTimeoutMs;
        }

        if (silentMs > timeoutMs * 4L / 3)
        {
            ExpireSession($"no server heard from in {silentMs} ms (session timeout {timeoutMs} ms)");
        }
    }

    private void ExpireSession(string reason)
    {
        long sessionId;
        lock (_sync)
        {
            sessionId = _sessionId;
            _sessionId = 0;
            _password = new byte[Records.PasswordLength];
            _lastZxid = 0;
            ClearWatches();
        }

        Log.SessionExpired(_logger, sessionId, reason);
        SetState(ZooKeeperConnectionState.Expired, sessionId, false, reason);
    }

    private void SetState(ZooKeeperConnectionState state, long sessionId, bool newSession, string? reason)
    {
        lock (_sync)
        {
            State = state;
        }

        ZooKeeperTelemetry.StateChanges.Add(1, new KeyValuePair<string, object?>("state", state.ToString().ToLowerInvariant()));
        var change = new ZooKeeperStateChange(state, sessionId, newSession, reason);
        _dispatch.Writer.TryWrite(() =>
        {
            // Each handler on its own, so one throwing handler does not starve the others.
            foreach (var handler in StateChanged?.GetInvocationList() ?? [])
            {
                try
                {
                    ((Action<ZooKeeperStateChange>)handler)(change);
                }
                catch (Exception ex)
                {
                    Log.CallbackFailed(_logger, ex);
                }
            }
        });
    }

    private async Task DispatchLoopAsync()
    {
        await foreach (var action in _dispatch.Reader.ReadAllAsync())
        {
            try
            {
                action();
            }
            catch (Exception ex)
            {
                Log.CallbackFailed(_logger, ex);
            }
        }
    }
}
