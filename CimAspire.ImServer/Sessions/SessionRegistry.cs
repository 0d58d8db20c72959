using System.Collections.Concurrent;
using CimAspire.Delivery.Dispatch;
using CimAspire.Delivery.Presence;
using CimAspire.Delivery.Routes;
using CimAspire.Protocol;
using Microsoft.Extensions.Options;

namespace CimAspire.ImServer.Sessions;

/// <summary>The outcome of a login attempt for a connection that presented a valid token.</summary>
public enum LoginOutcome
{
    Accepted,
    RejectedDuplicate,
}

/// <summary>
/// The users this server holds and their connections. Logins and logouts of one user are serialized (a striped lock),
/// claim the user's route with a new epoch, and release it with that epoch when the user's last connection goes.
/// When the claim or release makes the user come online or go offline, the others hear it through the presence notifier.
/// </summary>
public sealed partial class SessionRegistry(
    RouteStore routes,
    ServerInbox inbox,
    PresenceNotifier presence,
    ServerIdentity identity,
    IOptions<ImServerOptions> options,
    TimeProvider time,
    ILogger<SessionRegistry> logger)
{
    private readonly ConcurrentDictionary<long, UserSessions> _users = new();
    private readonly ConcurrentDictionary<string, ClientConnection> _connections = new(StringComparer.Ordinal);
    // Each login holds its stripe across its Redis round trips; 1,024 stripes keep a reconnect storm of thousands of
    // users from queueing a hundred logins behind each lock (64 did).
    private readonly SemaphoreSlim[] _locks = Enumerable.Range(0, 1024).Select(_ => new SemaphoreSlim(1, 1)).ToArray();
    private readonly ImServerOptions _options = options.Value;

    /// <summary>Open connections, logged in or not.</summary>
    public int ConnectionCount => _connections.Count;

    public int UserCount => _users.Count;

    public IEnumerable<ClientConnection> Connections => _connections.Values;

    public void Opened(ClientConnection connection) => _connections[connection.Id] = connection;

    /// <summary>The logged-in connections of a user on this server.</summary>
    public IReadOnlyList<ClientConnection> ConnectionsOf(long userId)
        => _users.TryGetValue(userId, out var sessions) ? sessions.Snapshot() : [];

    public IEnumerable<long> UserIds => _users.Keys;

    /// <summary>The user's send rate limiter (shared by the user's connections on this server).</summary>
    public TokenBucket? BucketOf(long userId) => _users.TryGetValue(userId, out var sessions) ? sessions.Bucket : null;

    public async Task<LoginOutcome> LoginAsync(ClientConnection connection, long userId, CancellationToken cancellationToken)
    {
        var gate = _locks[(int)((ulong)userId % (ulong)_locks.Length)];
        await gate.WaitAsync(cancellationToken);
        try
        {
            var existing = ConnectionsOf(userId);
            if (_options.DuplicateLogin == DuplicateLoginPolicy.RejectNew && existing.Count > 0)
            {
                return LoginOutcome.RejectedDuplicate;
            }

            var mode = _options.DuplicateLogin switch
            {
                DuplicateLoginPolicy.KickOld => RouteClaimMode.Exclusive,
                DuplicateLoginPolicy.RejectNew => RouteClaimMode.RejectIfElsewhere,
                _ => RouteClaimMode.Shared,
            };
            var claim = await routes.ClaimAsync(userId, identity.Id, mode, cancellationToken);
            if (!claim.Accepted)
            {
                return LoginOutcome.RejectedDuplicate;
            }

            if (claim.CameOnline)
            {
                presence.Enqueue(userId, connection.UserName, online: true);
            }

            var sessions = _users.GetOrAdd(userId, _ => new UserSessions(new TokenBucket(_options.SendRatePerSecond, _options.SendBurst, time)));
            sessions.Add(connection, claim.Epoch);

            if (_options.DuplicateLogin == DuplicateLoginPolicy.KickOld)
            {
                var replaced = new Kick { Reason = Kick.Types.Reason.Replaced, Message = "You logged in somewhere else." };
                foreach (var old in existing)
                {
                    old.Kick(replaced);
                }

                foreach (var server in claim.OtherServers)
                {
                    var batch = new ServerBatch();
                    batch.Items.Add(new ServerDelivery { Kick = replaced, RecipientIds = { userId } });
                    await inbox.PublishAsync(server, batch, cancellationToken);
                }
            }

            return LoginOutcome.Accepted;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Forgets a closed connection; the user's route is released when it was their last one here.</summary>
    public async Task ClosedAsync(ClientConnection connection, long userId)
    {
        _connections.TryRemove(connection.Id, out _);
        if (userId <= 0)
        {
            return;
        }

        var gate = _locks[(int)((ulong)userId % (ulong)_locks.Length)];
        await gate.WaitAsync();
        try
        {
            if (!_users.TryGetValue(userId, out var sessions) || !sessions.Remove(connection, out var epoch))
            {
                return;
            }

            if (sessions.IsEmpty)
            {
                _users.TryRemove(userId, out _);
                try
                {
                    var release = await routes.ReleaseAsync(userId, identity.Id, epoch);
                    if (release.WentOffline)
                    {
                        presence.Enqueue(userId, connection.UserName, online: false);
                    }
                }
                catch (Exception ex)
                {
                    // The route stays until the registry declares this server gone; delivery to it is then repaired by sync.
                    LogReleaseFailed(userId, ex);
                }
            }
        }
        finally
        {
            gate.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Releasing the route of user {UserId} failed")]
    private partial void LogReleaseFailed(long userId, Exception exception);

    private sealed class UserSessions(TokenBucket bucket)
    {
        private readonly object _gate = new();
        // Replaced, never changed in place: every delivery reads it, without a lock.
        private ClientConnection[] _connections = [];
        private long _epoch;

        public TokenBucket Bucket { get; } = bucket;

        public bool IsEmpty => Volatile.Read(ref _connections).Length == 0;

        public void Add(ClientConnection connection, long epoch)
        {
            lock (_gate)
            {
                _connections = [.. _connections, connection];
                _epoch = epoch;
            }
        }

        /// <summary>Removes the connection; <paramref name="epoch"/> is the newest claim, the one to release with.</summary>
        public bool Remove(ClientConnection connection, out long epoch)
        {
            lock (_gate)
            {
                epoch = _epoch;
                var index = Array.IndexOf(_connections, connection);
                if (index < 0)
                {
                    return false;
                }

                _connections = [.. _connections[..index], .. _connections[(index + 1)..]];
                return true;
            }
        }

        public IReadOnlyList<ClientConnection> Snapshot() => Volatile.Read(ref _connections);
    }
}
