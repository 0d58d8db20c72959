namespace CimAspire.Cli;

/// <summary>The command line of <c>cim</c>, with environment fallbacks.</summary>
public sealed record CliOptions(Uri Route, string? User, string? Password, bool Register, bool? Color, int InitialSyncLimit)
{
    public const string DefaultRoute = "http://localhost:5080/";

    public const string Usage = """
        usage: cim [--route <url>] [--user <name>] [--password <password>] [--register] [--no-color] [--sync <n>]

          --route <url>       route API address (default: $CIM_ROUTE, else http://localhost:5080/);
                              the Aspire dashboard lists it as the http endpoint of route-api
          --user <name>       user name (default: $CIM_USER, else asked)
          --password <pw>     password (default: $CIM_PASSWORD, else asked)
          --register          create the account first
          --no-color          plain output even on a terminal (NO_COLOR does the same)
          --sync <n>          at most n earlier messages per conversation on a first login (default 20)
        """;

    /// <summary>Parses arguments; returns null with an error message for bad ones.</summary>
    public static CliOptions? Parse(string[] args, Func<string, string?> environment, out string? error)
    {
        error = null;
        var route = environment("CIM_ROUTE");
        var user = environment("CIM_USER");
        var password = environment("CIM_PASSWORD");
        var register = false;
        bool? color = null;
        var sync = 20;
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            switch (arg)
            {
                case "--register":
                    register = true;
                    continue;
                case "--no-color":
                    color = false;
                    continue;
                case "--help" or "-h":
                    error = string.Empty;
                    return null;
                case "--route" or "--user" or "--password" or "--sync":
                    if (i + 1 >= args.Length || string.IsNullOrWhiteSpace(args[i + 1]))
                    {
                        error = $"{arg} needs a value.";
                        return null;
                    }

                    var value = args[++i];
                    if (arg == "--route")
                    {
                        route = value;
                    }
                    else if (arg == "--user")
                    {
                        user = value;
                    }
                    else if (arg == "--password")
                    {
                        password = value;
                    }
                    else if (!int.TryParse(value, out sync) || sync < 0)
                    {
                        error = "--sync needs a number of messages (0 or more).";
                        return null;
                    }

                    continue;
                default:
                    error = $"Unknown option '{arg}'.";
                    return null;
            }
        }

        route = string.IsNullOrWhiteSpace(route) ? DefaultRoute : route;
        if (!Uri.TryCreate(route.EndsWith('/') ? route : route + "/", UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            error = $"'{route}' is not an http(s) address of the route API.";
            return null;
        }

        return new CliOptions(uri, string.IsNullOrWhiteSpace(user) ? null : user.Trim(), string.IsNullOrEmpty(password) ? null : password, register, color, sync);
    }
}
