using System.Globalization;
using System.Net;

namespace CimAspire.ZooKeeper;

/// <summary>A parsed connection string: <c>host:port[,host:port...][/chroot]</c>.</summary>
public sealed class ZooKeeperConnectionString
{
    private const int DefaultPort = 2181;

    private ZooKeeperConnectionString(IReadOnlyList<DnsEndPoint> hosts, string? chroot)
    {
        Hosts = hosts;
        Chroot = chroot;
    }

    /// <summary>The ensemble members, in the order given.</summary>
    public IReadOnlyList<DnsEndPoint> Hosts { get; }

    /// <summary>The chroot every path is relative to (e.g. <c>/app</c>), or null for none.</summary>
    public string? Chroot { get; }

    /// <summary>Parses a connection string; a missing port means 2181.</summary>
    /// <exception cref="FormatException">The string is empty or a host or port is malformed.</exception>
    public static ZooKeeperConnectionString Parse(string connectionString)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        var text = connectionString.Trim();
        string? chroot = null;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            var root = text[slash..].TrimEnd('/');
            text = text[..slash];
            if (root.Length > 0)
            {
                PathValidation.Validate(root, nameof(connectionString));
                chroot = root;
            }
        }

        var hosts = new List<DnsEndPoint>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            hosts.Add(ParseHost(part, connectionString));
        }

        if (hosts.Count == 0)
        {
            throw new FormatException($"The ZooKeeper connection string '{connectionString}' names no host.");
        }

        return new ZooKeeperConnectionString(hosts, chroot);
    }

    public override string ToString()
    {
        return string.Join(',', Hosts.Select(h => $"{h.Host}:{h.Port}")) + Chroot;
    }

    private static DnsEndPoint ParseHost(string part, string whole)
    {
        string host;
        var port = DefaultPort;
        if (part.StartsWith('['))
        {
            // [ipv6]:port
            var close = part.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new FormatException($"Unclosed '[' in the ZooKeeper connection string '{whole}'.");
            }

            host = part[1..close];
            var rest = part[(close + 1)..];
            if (rest.Length > 0)
            {
                port = ParsePort(rest.StartsWith(':') ? rest[1..] : rest, whole);
            }
        }
        else
        {
            var colon = part.LastIndexOf(':');
            host = colon < 0 ? part : part[..colon];
            if (colon >= 0)
            {
                port = ParsePort(part[(colon + 1)..], whole);
            }
        }

        if (host.Length == 0)
        {
            throw new FormatException($"An empty host in the ZooKeeper connection string '{whole}'.");
        }

        return new DnsEndPoint(host, port);
    }

    private static int ParsePort(string text, string whole)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw new FormatException($"The port '{text}' in the ZooKeeper connection string '{whole}' is not a valid port.");
        }

        return port;
    }
}
