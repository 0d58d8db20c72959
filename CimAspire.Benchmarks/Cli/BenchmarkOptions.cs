using System.Globalization;

namespace CimAspire.Benchmarks.Cli;

/// <summary>What to run and how big. Sizes left null take each scenario's own default (full or quick).</summary>
public sealed record BenchmarkOptions
{
    public IReadOnlyList<string> Scenarios { get; init; } = ScenarioNames.Default;
    public int? Connections { get; init; }
    public int? Window { get; init; }
    public int? Payload { get; init; }
    public TimeSpan? Duration { get; init; }
    public int? Rate { get; init; }
    public bool Quick { get; init; }
    public string? JsonPath { get; init; }
    /// <summary>The route API of a running cluster; null starts a local cluster.</summary>
    public Uri? Target { get; init; }
    /// <summary>The cluster's token key, so the harness can mint IM-server tokens itself instead of logging in each user.</summary>
    public string? TokenKey { get; init; }
    /// <summary>That cluster's Redis (host:port), so the harness can seed users and groups instead of registering each.</summary>
    public string? Redis { get; init; }
    /// <summary>How many loopback source addresses (127.0.0.1, .2, ...) the connection-heavy scenarios spread over.</summary>
    public int? LoopbackAddresses { get; init; }
    /// <summary>An upper bound on the whole run: the program stops by itself.</summary>
    public TimeSpan? TimeLimit { get; init; }
    public bool ShowHelp { get; init; }

    public int ConnectionsOr(int full, int quick) => Connections ?? (Quick ? quick : full);
    public int WindowOr(int full, int quick) => Window ?? (Quick ? quick : full);
    public int PayloadOr(int full) => Payload ?? full;
    public TimeSpan DurationOr(TimeSpan full, TimeSpan quick) => Duration ?? (Quick ? quick : full);
    public int RateOr(int full, int quick) => Rate ?? (Quick ? quick : full);
}

public static class ScenarioNames
{
    public const string Transient = "transient";
    public const string SignalR = "signalr";
    public const string Persisted = "persisted";
    public const string Fanout = "fanout";
    public const string Idle = "idle";
    public const string Reconnect = "reconnect";
    public const string Failover = "failover";
    public const string ChaosImServer = "chaos-im-server";
    public const string ChaosRoute = "chaos-route";
    public const string ChaosRedis = "chaos-redis";
    public const string ChaosZooKeeper = "chaos-zookeeper";
    public const string ChaosZooKeeperSession = "chaos-zk-session";

    public static readonly IReadOnlyList<string> Load = [Transient, Persisted, Fanout, Idle, Reconnect, Failover];
    public static readonly IReadOnlyList<string> Chaos = [ChaosImServer, ChaosRoute, ChaosRedis, ChaosZooKeeper, ChaosZooKeeperSession];
    public static readonly IReadOnlyList<string> Default = [.. Load, .. Chaos];
    public static readonly IReadOnlyList<string> All = [.. Load, SignalR, .. Chaos];

    /// <summary>Expands "all", "load" and "chaos", keeps the order given, drops repeats.</summary>
    public static IReadOnlyList<string> Expand(IEnumerable<string> names)
    {
        var result = new List<string>();
        foreach (var name in names)
        {
            IEnumerable<string> expanded = name switch
            {
                "all" => Default,
                "load" => Load,
                "chaos" => Chaos,
                _ when All.Contains(name) => [name],
                _ => throw new OptionsException($"Unknown scenario '{name}'. Known: all, load, chaos, {string.Join(", ", All)}."),
            };
            foreach (var e in expanded)
            {
                if (!result.Contains(e))
                {
                    result.Add(e);
                }
            }
        }

        return result;
    }
}

public sealed class OptionsException(string message) : Exception(message);

/// <summary>Parses the command line; every mistake becomes an <see cref="OptionsException"/> naming the option.</summary>
public static class OptionsParser
{
    public const string Usage = """
        CimAspire load and chaos harness

        Usage: CimAspire.Benchmarks [options]

          --scenario, -s <names>   comma-separated, repeatable: all (default), load, chaos,
                                   transient, signalr, persisted, fanout, idle, reconnect, failover,
                                   chaos-im-server, chaos-route, chaos-redis, chaos-zookeeper, chaos-zk-session
          --connections <n>        clients (or group members) per scenario
          --window <n>             messages each sender keeps in flight
          --payload <bytes>        message body size (at least 20)
          --duration <time>        measuring time per scenario, e.g. 10s, 500ms, 00:00:30
          --rate <n>               messages per second for the fixed-rate phases
          --quick                  every scenario small; completeness only (the test command runs this)
          --json <file>            also write the results as JSON
          --target <url>           the route API of a running cluster (else a local cluster is started)
          --token-key <key>        that cluster's token key, to mint IM server tokens instead of logging in each user
          --redis <host:port>      that cluster's Redis, to seed users and groups (with --token-key)
          --addresses <n>          loopback source addresses (127.0.0.x) for the connection-heavy scenarios
          --time-limit <time>      stop the whole run after this long (default 30 min, 5 min with --quick)
          --help, -h               this text

        Exit code: 0 when every scenario ran and nothing was lost, duplicated or reordered; 1 otherwise; 2 for bad options.
        """;

    public static BenchmarkOptions Parse(IReadOnlyList<string> args)
    {
        var options = new BenchmarkOptions();
        var scenarios = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string Value()
            {
                if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    throw new OptionsException($"Option {arg} needs a value.");
                }

                return args[++i];
            }

            switch (arg)
            {
                case "--scenario" or "-s":
                    scenarios.AddRange(Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(s => s.ToLowerInvariant()));
                    break;
                case "--connections":
                    // Clients are paired, so fewer than two cannot send anything.
                    options = options with { Connections = PositiveInt(arg, Value(), 2) };
                    break;
                case "--window":
                    options = options with { Window = PositiveInt(arg, Value(), 1) };
                    break;
                case "--payload":
                    options = options with { Payload = PositiveInt(arg, Value(), Completeness.MessageStamp.Size) };
                    break;
                case "--duration":
                    options = options with { Duration = Time(arg, Value()) };
                    break;
                case "--rate":
                    options = options with { Rate = PositiveInt(arg, Value(), 1) };
                    break;
                case "--quick":
                    options = options with { Quick = true };
                    break;
                case "--json":
                    options = options with { JsonPath = Value() };
                    break;
                case "--target":
                    options = options with { Target = LoopbackUrl(arg, Value()) };
                    break;
                case "--token-key":
                    options = options with { TokenKey = Value() };
                    break;
                case "--redis":
                    options = options with { Redis = LoopbackHostPort(arg, Value()) };
                    break;
                case "--addresses":
                    options = options with { LoopbackAddresses = PositiveInt(arg, Value(), 1, 254) };
                    break;
                case "--time-limit":
                    options = options with { TimeLimit = Time(arg, Value()) };
                    break;
                case "--help" or "-h":
                    options = options with { ShowHelp = true };
                    break;
                default:
                    throw new OptionsException($"Unknown option '{arg}'. Use --help for the list.");
            }
        }

        return options with { Scenarios = ScenarioNames.Expand(scenarios.Count == 0 ? ["all"] : scenarios) };
    }

    private static int PositiveInt(string option, string value, int min, int max = int.MaxValue)
    {
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < min || n > max)
        {
            throw new OptionsException(max == int.MaxValue
                ? $"{option} must be a whole number of at least {min}, not '{value}'."
                : $"{option} must be a whole number from {min} to {max}, not '{value}'.");
        }

        return n;
    }

    private static TimeSpan Time(string option, string value)
    {
        TimeSpan? parsed = null;
        if (value.EndsWith("ms", StringComparison.Ordinal) && double.TryParse(value[..^2], NumberStyles.Float, CultureInfo.InvariantCulture, out var ms))
        {
            parsed = TimeSpan.FromMilliseconds(ms);
        }
        else if (value.EndsWith('s') && double.TryParse(value[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var s))
        {
            parsed = TimeSpan.FromSeconds(s);
        }
        else if (value.EndsWith('m') && double.TryParse(value[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var m))
        {
            parsed = TimeSpan.FromMinutes(m);
        }
        else if (TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out var ts))
        {
            parsed = ts;
        }

        if (parsed is not { } t || t <= TimeSpan.Zero || t > TimeSpan.FromHours(2))
        {
            throw new OptionsException($"{option} must be a positive time up to 2h such as 10s, 500ms or 00:01:00, not '{value}'.");
        }

        return t;
    }

    private static string LoopbackHostPort(string option, string value)
    {
        var colon = value.LastIndexOf(':');
        var host = colon > 0 ? value[..colon] : "";
        if (colon <= 0 || !int.TryParse(value[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535
            || !(host == "localhost" || (System.Net.IPAddress.TryParse(host, out var ip) && System.Net.IPAddress.IsLoopback(ip))))
        {
            throw new OptionsException($"{option} must be a loopback host:port such as 127.0.0.1:6379, not '{value}'.");
        }

        return value;
    }

    /// <summary>Load goes to loopback only, so a target elsewhere is refused.</summary>
    private static Uri LoopbackUrl(string option, string value)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new OptionsException($"{option} must be an http(s) URL such as http://127.0.0.1:5000, not '{value}'.");
        }

        if (!uri.IsLoopback)
        {
            throw new OptionsException($"{option} must be a loopback address (127.0.0.0/8 or localhost): the harness sends load to this machine only.");
        }

        return uri;
    }
}
