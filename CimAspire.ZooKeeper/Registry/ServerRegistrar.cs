using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CimAspire.ZooKeeper.Registry;

/// <summary>
/// Keeps one IM server registered as the ephemeral node <c>&lt;root&gt;/&lt;id&gt;</c> holding the JSON of its
/// <see cref="ServerRegistration"/>: across reconnects (the session keeps the node), after a session expiry (it creates the
/// node again in the new session), after someone deletes it, and over a stale node left by an older session (it replaces it).
/// On shutdown <see cref="DeregisterAsync"/> deletes the node first, so routers stop picking the server at once.
/// </summary>
public sealed class ServerRegistrar : IHostedService, IAsyncDisposable
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(500);

    private readonly ZooKeeperClient _client;
    private readonly ILogger _logger;
    private readonly string _root;
    private readonly CoalescingSignal _signal = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _firstRegistration = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action<WatchedEvent> _nodeWatcher;
    private readonly object _sync = new();
    private ServerRegistration? _registration;
    private byte[] _data = [];
    private bool _dataChanged;
    private Task? _loop;
    private long _registeredSession;
    // Set when the node of an earlier registration was found gone (session expiry, deletion); cleared when it is back.
    private volatile bool _registrationLost;

    /// <summary>Creates a registrar on <paramref name="client"/> for the root in <paramref name="options"/>; nothing is registered until <see cref="RegisterAsync"/>.</summary>
    public ServerRegistrar(ZooKeeperClient client, IOptions<ServerRegistryOptions> options, ILogger<ServerRegistrar>? logger = null)
    {
        _client = client;
        _root = options.Value.Root;
        _logger = logger ?? NullLogger<ServerRegistrar>.Instance;
        _nodeWatcher = _ => _signal.Set();
        _client.StateChanged += OnStateChanged;
    }

    /// <summary>
    /// Raised (on the registrar's loop, after the node is back) when a registration that had existed was lost (its session
    /// expired, or someone deleted the node) and is published again. Whoever watches the registry may have taken the
    /// server for gone meanwhile (the route API removes a departed server's routes), so the server must re-assert what
    /// that removed. Handlers must not block.
    /// </summary>
    public event Action? RegistrationRestored;

    /// <summary>The registration being kept, or null before <see cref="RegisterAsync"/>.</summary>
    public ServerRegistration? Registration
    {
        get
        {
            lock (_sync)
            {
                return _registration;
            }
        }
    }

    /// <summary>The registry node's path, or null before <see cref="RegisterAsync"/>.</summary>
    public string? NodePath => Registration is { } registration ? $"{_root}/{registration.Id}" : null;

    /// <summary>True while the node is known to exist and belong to the client's current session.</summary>
    public bool IsRegistered => Interlocked.Read(ref _registeredSession) is var session && session != 0 && session == _client.SessionId;

    /// <summary>
    /// Publishes <paramref name="registration"/> (again, with new data, if called twice) and keeps it published.
    /// Completes once the node exists; if ZooKeeper is unreachable it keeps trying in the background after a cancel.
    /// </summary>
    /// <exception cref="ArgumentException">The id is not a valid node name.</exception>
    public async Task RegisterAsync(ServerRegistration registration, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(registration);
        if (string.IsNullOrEmpty(registration.Id) || registration.Id.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"A server id must be a non-empty node name without '/': '{registration.Id}'.", nameof(registration));
        }

        PathValidation.Validate($"{_root}/{registration.Id}", nameof(registration));
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
            if (_registration is not null && _registration.Id != registration.Id)
            {
                throw new InvalidOperationException($"This registrar already keeps server {_registration.Id}; one registrar serves one server.");
            }

            _registration = registration;
            _data = RegistryJson.Serialize(registration);
            _dataChanged = true;
            _loop ??= Task.Run(RunAsync);
        }

        _signal.Set();
        await _firstRegistration.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Stops keeping the registration and deletes the node (idempotent). Call it first when shutting down.</summary>
    public async Task DeregisterAsync(CancellationToken cancellationToken = default)
    {
        Task? loop;
        ServerRegistration? registration;
        lock (_sync)
        {
            if (_stopping.IsCancellationRequested)
            {
                return;
            }

            _stopping.Cancel();
            loop = _loop;
            registration = _registration;
        }

        _client.StateChanged -= OnStateChanged;
        if (loop is not null)
        {
            await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (registration is null)
        {
            return;
        }

        var path = $"{_root}/{registration.Id}";
        try
        {
            var stat = await _client.ExistsAsync(path, cancellationToken: cancellationToken);
            if (stat is not null && stat.EphemeralOwner == _client.SessionId)
            {
                await _client.DeleteAsync(path, cancellationToken: cancellationToken);
            }

            Log.Deregistered(_logger, registration.Id, path);
        }
        catch (ZooKeeperException ex) when (ex.Code == ZooKeeperErrorCode.NoNode)
        {
            Log.Deregistered(_logger, registration.Id, path);
        }
        catch (Exception ex) when (ex is ZooKeeperException or ObjectDisposedException or OperationCanceledException)
        {
            Log.DeregisterFailed(_logger, registration.Id, ex);
        }
        finally
        {
            Interlocked.Exchange(ref _registeredSession, 0);
        }
    }

    Task IHostedService.StartAsync(CancellationToken cancellationToken)
    {
        return Task.CompletedTask;
    }

    Task IHostedService.StopAsync(CancellationToken cancellationToken)
    {
        return DeregisterAsync(cancellationToken);
    }

    /// <summary>Deregisters (bounded to 5 s).</summary>
    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await DeregisterAsync(timeout.Token);
    }

    private void OnStateChanged(ZooKeeperStateChange change)
    {
        if (change.State == ZooKeeperConnectionState.Connected)
        {
            // After a resume the node is normally still there (one cheap exists); after an expiry it is created again.
            _signal.Set();
        }
        else if (change.State == ZooKeeperConnectionState.Expired)
        {
            Interlocked.Exchange(ref _registeredSession, 0);
            _registrationLost |= _firstRegistration.Task.IsCompleted;
        }
    }

    private Task RunAsync() => _signal.RunAsync(
        EnsureRegisteredAsync, ex => Log.RegisterFailed(_logger, Registration?.Id ?? "?", ex), RetryDelay, _stopping.Token);

    private async Task EnsureRegisteredAsync(CancellationToken token)
    {
        ServerRegistration registration;
        byte[] data;
        bool dataChanged;
        lock (_sync)
        {
            registration = _registration!;
            data = _data;
            dataChanged = _dataChanged;
        }

        var path = $"{_root}/{registration.Id}";
        await _client.EnsurePathAsync(_root, token);
        while (true)
        {
            token.ThrowIfCancellationRequested();
            var session = _client.SessionId;

            // The watch brings us back here if the node is deleted (by anyone) or, for a missing node, created.
            var stat = await _client.ExistsAsync(path, _nodeWatcher, token);
            if (stat is null)
            {
                _registrationLost |= _firstRegistration.Task.IsCompleted;
                try
                {
                    await _client.CreateAsync(path, data, CreateMode.Ephemeral, token);
                }
                catch (ZooKeeperException ex) when (ex.Code == ZooKeeperErrorCode.NodeExists)
                {
                    // A create lost to a connection loss may have succeeded after all: the owner check below decides.
                }

                continue;
            }

            if (stat.EphemeralOwner != session)
            {
                // Left by an older session of ours (a crash or an expiry whose cleanup is still in flight): replace it.
                Log.RemovingStale(_logger, path, stat.EphemeralOwner);
                _registrationLost |= _firstRegistration.Task.IsCompleted;
                try
                {
                    await _client.DeleteAsync(path, stat.Version, token);
                }
                catch (ZooKeeperException ex) when (ex.Code is ZooKeeperErrorCode.NoNode or ZooKeeperErrorCode.BadVersion)
                {
                }

                continue;
            }

            if (dataChanged)
            {
                await _client.SetDataAsync(path, data, cancellationToken: token);
                lock (_sync)
                {
                    _dataChanged = !ReferenceEquals(data, _data);
                }
            }

            if (Interlocked.Exchange(ref _registeredSession, session) != session)
            {
                Log.Registered(_logger, registration.Id, path, session);
            }

            if (_registrationLost)
            {
                _registrationLost = false;
                Log.RegistrationRestored(_logger, registration.Id, path);
                RaiseRestored();
            }

            _firstRegistration.TrySetResult();
            return;
        }
    }

    private void RaiseRestored()
    {
        foreach (var handler in RegistrationRestored?.GetInvocationList() ?? [])
        {
            try
            {
                ((Action)handler)();
            }
            catch (Exception ex)
            {
                Log.RestoredHandlerFailed(_logger, ex);
            }
        }
    }
}
