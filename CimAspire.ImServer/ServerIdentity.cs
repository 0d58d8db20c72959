using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace CimAspire.ImServer;

/// <summary>Who this server is: a run-unique id, and the address it advertises once the listener is bound.</summary>
public sealed class ServerIdentity
{
    public ServerIdentity(IOptions<ImServerOptions> options, TimeProvider time)
    {
        var configured = options.Value.Id;
        Id = string.IsNullOrWhiteSpace(configured) ? NewId() : configured.Trim();
        AdvertisedHost = options.Value.AdvertisedHost;
        StartedAt = time.GetUtcNow();
    }

    public string Id { get; }

    public string AdvertisedHost { get; }

    public DateTimeOffset StartedAt { get; }

    /// <summary>The TCP port really bound; 0 until the listener started.</summary>
    public int Port { get; internal set; }

    public static string Version { get; } =
        typeof(ServerIdentity).Assembly.GetName().Version?.ToString() ?? "0.0.0";

    private static string NewId()
    {
        var host = new StringBuilder();
        foreach (var c in Environment.MachineName.ToLowerInvariant())
        {
            host.Append(char.IsAsciiLetterOrDigit(c) ? c : '-');
        }

        return $"im-{host}-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
    }
}
