using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CimAspire.ZooKeeper.Registry;

/// <summary>
/// The route API's live view of the registered IM servers: it lists the children of the registry root with a child watch,
/// reads each child's data with a data watch, and re-reads on every watch event and every (re)connection. A server leaves
/// the snapshot as soon as ZooKeeper reports its node gone; a node with invalid data is logged and left out.
/// While ZooKeeper is unreachable the last snapshot is kept and re-checked on reconnect.
/// </summary>
public sealed class ServerDirectory : IServerDirectory, IHostedService, IAsyncDisposable
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(500);

    private readonly ZooKeeperClient _client;
    private readonly ILogger _logger;
    private readonly string _root;
    private readonly CoalescingSignal _signal = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _initialLoad = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action<WatchedEvent> _watcher;
    private readonly object _sync = new();
    private Dictionary<string, ServerRegistration> _byNode = new(StringComparer.Ordinal);
    private ServerRegistration[] _servers = [];
    private Task? _loop;

    /// <summary>Creates a directory of the root in <paramref name="options"/>; it watches once started (<see cref="Start"/> or as a hosted service).</summary>
    public ServerDirectory(ZooKeeperClient client, IOptions<ServerRegistryOptions> options, ILogger<ServerDirectory>? logger = null)
    {
        _client = client;
        _root = options.Value.Root;
        _logger = logger ?? NullLogger<ServerDirectory>.Instance;
        _watcher = _ => _signal.Set();
        _client.StateChanged += OnStateChanged;
    }

    /// <inheritdoc/>
    public event Action<ServerDirectoryChange>? Changed;

    /// <inheritdoc/>
    public IReadOnlyList<ServerRegistration> Servers => Volatile.Read(ref _servers);

    /// <summary>The registry root being watched.</summary>
    public string Root => _root;

    /// <summary>Starts watching in the background (idempotent).</summary>
    public void Start()
    {
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
            _loop ??= Task.Run(RunAsync);
        }

        _signal.Set();
    }

    /// <summary>Starts watching if needed and waits until the first listing has loaded.</summary>
    public async Task WaitForInitialLoadAsync(CancellationToken cancellationToken = default)
    {
        Start();
        await _initialLoad.Task.WaitAsync(cancellationToken);
    }

    Task IHostedService.StartAsync(CancellationToken cancellationToken)
    {
        // Do not block host startup on ZooKeeper: the health check and WaitForInitialLoadAsync say when it is ready.
        Start();
        return Task.CompletedTask;
    }

    Task IHostedService.StopAsync(CancellationToken cancellationToken)
    {
        return StopAsync();
    }

    /// <summary>Stops watching.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
    }

    private async Task StopAsync()
    {
        Task? loop;
        lock (_sync)
        {
            if (_stopping.IsCancellationRequested)
            {
                return;
            }

            _stopping.Cancel();
            loop = _loop;
        }

        _client.StateChanged -= OnStateChanged;
        if (loop is not null)
        {
            await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private void OnStateChanged(ZooKeeperStateChange change)
    {
        if (change.State == ZooKeeperConnectionState.Connected)
        {
            // After an expiry every watch is gone; after a resume a re-list is cheap and closes any gap.
            _signal.Set();
        }
    }

    private Task RunAsync() => _signal.RunAsync(
        async token =>
        {
            await RefreshAsync(token);
            _initialLoad.TrySetResult();
        },
        ex => Log.RefreshFailed(_logger, _root, ex),
        RetryDelay,
        _stopping.Token);

    private async Task RefreshAsync(CancellationToken token)
    {
        IReadOnlyList<string> children;
        try
        {
            children = await _client.GetChildrenAsync(_root, _watcher, token);
        }
        catch (ZooKeeperException ex) when (ex.Code == ZooKeeperErrorCode.NoNode)
        {
            // getChildren on a missing node sets no watch: create the root, then list it with a watch.
            await _client.EnsurePathAsync(_root, token);
            children = await _client.GetChildrenAsync(_root, _watcher, token);
        }

        // Pipelined: every getData goes out before the first reply is awaited.
        var reads = children.Select(child => ReadAsync(child, token)).ToArray();
        var current = new Dictionary<string, ServerRegistration>(StringComparer.Ordinal);
        foreach (var (child, registration) in await Task.WhenAll(reads))
        {
            if (registration is not null)
            {
                current[child] = registration;
            }
        }

        Publish(current);
    }

    private async Task<(string Child, ServerRegistration? Registration)> ReadAsync(string child, CancellationToken token)
    {
        var path = $"{_root}/{child}";
        try
        {
            var node = await _client.GetDataAsync(path, _watcher, token);
            var registration = RegistryJson.TryDeserialize(node.Data, out var error);
            if (registration is null)
            {
                Log.InvalidRegistration(_logger, path, error);
            }
            else if (registration.Id != child)
            {
                Log.InvalidRegistration(_logger, path, $"the JSON names server '{registration.Id}', not '{child}'");
                registration = null;
            }

            return (child, registration);
        }
        catch (ZooKeeperException ex) when (ex.Code == ZooKeeperErrorCode.NoNode)
        {
            // Gone between the listing and the read: the child watch brings the next listing.
            return (child, null);
        }
    }

    private void Publish(Dictionary<string, ServerRegistration> current)
    {
        List<ServerRegistration> joined = [];
        List<ServerRegistration> left = [];
        lock (_sync)
        {
            foreach (var (node, registration) in _byNode)
            {
                if (!current.TryGetValue(node, out var now) || now != registration)
                {
                    left.Add(registration);
                }
            }

            foreach (var (node, registration) in current)
            {
                if (!_byNode.TryGetValue(node, out var before) || before != registration)
                {
                    joined.Add(registration);
                }
            }

            _byNode = current;
            Volatile.Write(ref _servers, [.. current.Values.OrderBy(s => s.Id, StringComparer.Ordinal)]);
        }

        if (joined.Count == 0 && left.Count == 0)
        {
            return;
        }

        Log.DirectoryChanged(_logger, _root, current.Count, joined.Count, left.Count);
        var change = new ServerDirectoryChange(joined, left);
        foreach (var handler in Changed?.GetInvocationList() ?? [])
        {
            try
            {
                ((Action<ServerDirectoryChange>)handler)(change);
            }
            catch (Exception ex)
            {
                Log.ChangedHandlerFailed(_logger, ex);
            }
        }
    }
}
