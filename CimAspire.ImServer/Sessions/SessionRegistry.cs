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
    private volatile bool _reclaimStopped;

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

    /// <summary>
    /// Claims again the route of every user held here whose entry Redis lost: the route API removed this server's routes
    /// because it took the server for gone (its registry session expired), or Redis lost the data. The claim keeps the
    /// epoch rules: unless several sessions per user are allowed, a user who logged in elsewhere meanwhile is not taken
    /// back; their connection here is kicked (REPLACED) instead. Users who come online again are announced, and every
    /// reclaimed connection is told to sync (what was stored for them while they had no route was never pushed).
    /// Returns how many users were looked at (reclaimed or kicked).
    /// </summary>
    public async Task<int> ReclaimLostRoutesAsync(CancellationToken cancellationToken)
    {
        if (_reclaimStopped)
        {
            return 0;
        }

        // Held users first, then what Redis records: anyone who logs in after the snapshot claimed after it, so the
        // record read next includes them.
        var held = _users.Keys.ToList();
        if (held.Count == 0)
        {
            return 0;
        }

        var recorded = (await routes.GetServerUsersAsync(identity.Id, cancellationToken)).ToHashSet();
        var lost = held.Where(u => !recorded.Contains(u)).ToList();
        if (lost.Count == 0)
        {
            return 0;
        }

        LogReclaiming(identity.Id, lost.Count, held.Count);
        var hinted = new ConcurrentBag<ClientConnection>();
        var kicked = 0;
        await Parallel.ForEachAsync(
            lost,
            new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = cancellationToken },
            async (userId, ct) =>
            {
                if (await ReclaimAsync(userId, hinted, ct) == false)
                {
                    Interlocked.Increment(ref kicked);
                }
            });

        SendSyncHint(hinted.ToList(), SyncHint.Types.Reason.RouteRestored);
        LogReclaimed(identity.Id, lost.Count - kicked, kicked);
        return lost.Count;
    }

    /// <summary>Tells every logged-in connection to sync (pushes to this server may have been lost, e.g. its subscription was down).</summary>
    public int HintEveryone(SyncHint.Types.Reason reason)
    {
        var connections = _users.Values.SelectMany(u => u.Snapshot()).ToList();
        SendSyncHint(connections, reason);
        return connections.Count;
    }

    /// <summary>Stops <see cref="ReclaimLostRoutesAsync"/> for good: the server is draining and its routes go on purpose.</summary>
    public void StopReclaiming() => _reclaimStopped = true;

    // True when the user's route is back (or the user is no longer held), false when the user's connections were kicked.
    private async Task<bool?> ReclaimAsync(long userId, ConcurrentBag<ClientConnection> hinted, CancellationToken cancellationToken)
    {
        var gate = _locks[(int)((ulong)userId % (ulong)_locks.Length)];
        await gate.WaitAsync(cancellationToken);
        try
        {
            if (_reclaimStopped || !_users.TryGetValue(userId, out var sessions) || sessions.Snapshot() is not { Count: > 0 } connections)
            {
                return null;
            }

            // Under one session per user, an entry of another server means a newer login there: do not steal it back.
            var mode = _options.DuplicateLogin == DuplicateLoginPolicy.AllowMultiple ? RouteClaimMode.Shared : RouteClaimMode.RejectIfElsewhere;
            var claim = await routes.ClaimAsync(userId, identity.Id, mode, cancellationToken);
            if (!claim.Accepted)
            {
                var replaced = new Kick { Reason = Kick.Types.Reason.Replaced, Message = "You logged in somewhere else." };
                foreach (var connection in connections)
                {
                    connection.Kick(replaced);
                }

                return false;
            }

            sessions.SetEpoch(claim.Epoch);
            if (claim.CameOnline)
            {
                presence.Enqueue(userId, connections[0].UserName, online: true);
            }

            foreach (var connection in connections)
            {
                hinted.Add(connection);
            }

            return true;
        }
        finally
        {
            gate.Release();
        }
    }

    private void SendSyncHint(List<ClientConnection> connections, SyncHint.Types.Reason reason)
    {
        if (connections.Count == 0)
        {
            return;
        }

        // Spread the syncs of many clients over up to SyncHintMaxSpread, about 0.2 ms per client.
        var spread = Math.Min(_options.SyncHintMaxSpread.TotalMilliseconds, connections.Count * 0.2);
        var hint = new Envelope { SyncHint = new SyncHint { Reason = reason, SpreadMs = (int)spread } };
        foreach (var connection in connections)
        {
            connection.Send(hint);
        }

        LogSyncHinted(identity.Id, connections.Count, reason);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Releasing the route of user {UserId} failed")]
    private partial void LogReleaseFailed(long userId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Server {ServerId} lost the routes of {Lost} of its {Held} users; claiming them again")]
    private partial void LogReclaiming(string serverId, int lost, int held);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {ServerId} reclaimed {Reclaimed} routes; {Kicked} users had logged in elsewhere and were kicked here")]
    private partial void LogReclaimed(string serverId, int reclaimed, int kicked);

    [LoggerMessage(Level = LogLevel.Information, Message = "Server {ServerId} told {Connections} connections to sync ({Reason})")]
    private partial void LogSyncHinted(string serverId, int connections, SyncHint.Types.Reason reason);

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

        /// <summary>Records a newer claim of the user's route (a reclaim), the one to release with from now on.</summary>
        public void SetEpoch(long epoch)
        {
            lock (_gate)
            {
                _epoch = epoch;
            }
        }

        public IReadOnlyList<ClientConnection> Snapshot() => Volatile.Read(ref _connections);
    }
}
