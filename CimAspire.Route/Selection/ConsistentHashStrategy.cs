using CimAspire.Route.Extensions;
using CimAspire.ZooKeeper.Registry;
using Microsoft.Extensions.Options;

namespace CimAspire.Route.Selection;

/// <summary>
/// Consistent hashing: every server owns <see cref="RouteApiOptions.VirtualNodes"/> points on a 64-bit ring; a user goes to the
/// owner of the first point at or after the user's hash. Excluded servers are skipped by walking on clockwise, so removing a
/// server moves only its own users. The ring is rebuilt only when the set of servers changes.
/// </summary>
public sealed class ConsistentHashStrategy(IOptions<RouteApiOptions> options) : IServerSelectionStrategy
{
    private readonly int _virtualNodes = options.Value.VirtualNodes;
    private volatile Ring? _ring;

    public ValueTask<ServerRegistration?> PickAsync(
        IReadOnlyList<ServerRegistration> servers, long userId, IReadOnlySet<string> excluded, CancellationToken cancellationToken)
    {
        if (servers.Count == 0)
        {
            return ValueTask.FromResult<ServerRegistration?>(null);
        }

        var ring = _ring;
        if (ring is null || !ring.IsFor(servers))
        {
            ring = new Ring(servers, _virtualNodes);
            _ring = ring;
        }

        return ValueTask.FromResult(ring.Find(StableHash.OfUser(userId), excluded));
    }

    private sealed class Ring
    {
        private readonly string[] _ids;
        private readonly ServerRegistration[] _servers;
        private readonly ulong[] _points;
        private readonly int[] _owners;

        public Ring(IReadOnlyList<ServerRegistration> servers, int virtualNodes)
        {
            _servers = [.. servers];
            _ids = [.. servers.Select(s => s.Id)];
            var points = new (ulong Point, int Owner)[servers.Count * virtualNodes];
            for (var s = 0; s < servers.Count; s++)
            {
                for (var v = 0; v < virtualNodes; v++)
                {
                    points[(s * virtualNodes) + v] = (StableHash.Of($"{servers[s].Id}#{v}"), s);
                }
            }

            // Ties (astronomically rare) are broken by owner so every replica builds the same ring.
            Array.Sort(points, (a, b) => a.Point != b.Point ? a.Point.CompareTo(b.Point) : a.Owner.CompareTo(b.Owner));
            _points = [.. points.Select(p => p.Point)];
            _owners = [.. points.Select(p => p.Owner)];
        }

        public bool IsFor(IReadOnlyList<ServerRegistration> servers)
        {
            if (servers.Count != _servers.Length)
            {
                return false;
            }

            for (var i = 0; i < _servers.Length; i++)
            {
                // The same id with new data (host, port) must be answered with the new registration.
                if (!Equals(servers[i], _servers[i]))
                {
                    return false;
                }
            }

            return true;
        }

        public ServerRegistration? Find(ulong hash, IReadOnlySet<string> excluded)
        {
            var start = Array.BinarySearch(_points, hash);
            if (start < 0)
            {
                start = ~start;
            }

            for (var i = 0; i < _points.Length; i++)
            {
                var owner = _owners[(start + i) % _points.Length];
                if (!excluded.Contains(_ids[owner]))
                {
                    return _servers[owner];
                }
            }

            return null;
        }
    }
}
