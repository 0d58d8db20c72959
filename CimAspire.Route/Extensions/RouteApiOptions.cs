using System.ComponentModel.DataAnnotations;

namespace CimAspire.Route.Extensions;

/// <summary>The shared secrets (section <c>Cim</c>): the token key every component shares and the admin credential.</summary>
public sealed class CimSecretsOptions
{
    public const string SectionName = "Cim";

    /// <summary>HMAC key of the access tokens, shared with the IM servers (AppHost secret parameter <c>token-key</c>).</summary>
    [Required, MinLength(16)]
    public string TokenKey { get; set; } = "";

    /// <summary>The value administrators send in <c>X-Admin-Key</c> (AppHost secret parameter <c>admin-key</c>).</summary>
    [Required, MinLength(16)]
    public string AdminKey { get; set; } = "";
}

public enum ServerSelectionStrategy
{
    ConsistentHash,
    RoundRobin,
    Random,
    LeastConnections,
}

/// <summary>The route API's tunables (section <c>Cim:Route</c>).</summary>
public sealed class RouteApiOptions : IValidatableObject
{
    public const string SectionName = "Cim:Route";

    public ServerSelectionStrategy Strategy { get; set; } = ServerSelectionStrategy.ConsistentHash;

    /// <summary>
    /// Points per server on the consistent-hash ring; more points spread users more evenly. Measured over 100 random sets of
    /// server ids and 10,000 users: 160 points left a server 29% off its even share at worst (4 servers), 1024 points 10%.
    /// </summary>
    [Range(1, 10_000)]
    public int VirtualNodes { get; set; } = 1024;

    /// <summary>How long the liveness probe (a TCP connect to the chosen server) may take before another server is chosen.</summary>
    [Range(50, 30_000)]
    public int ProbeTimeoutMs { get; set; } = 500;

    /// <summary>How long a probe result is reused, so a reconnect storm does not open a probe connection per login.</summary>
    [Range(0, 600_000)]
    public int ProbeCacheMs { get; set; } = 2_000;

    /// <summary>How long a token (and its session) lives; refresh extends both.</summary>
    [Range(60, 30 * 24 * 3600)]
    public int TokenLifetimeSeconds { get; set; } = 12 * 3600;

    [Range(8, 1024)]
    public int PasswordMinLength { get; set; } = 8;

    /// <summary>PBKDF2 iterations of new password hashes (stored hashes keep their own count).</summary>
    [Range(1_000, 10_000_000)]
    public int PasswordHashIterations { get; set; } = 100_000;

    [Required]
    public ReconnectOptions Reconnect { get; set; } = new();

    [Required]
    public RateLimitOptions RegisterRateLimit { get; set; } = new() { PermitLimit = 10, WindowSeconds = 60 };

    [Required]
    public RateLimitOptions LoginRateLimit { get; set; } = new() { PermitLimit = 30, WindowSeconds = 60 };

    // Data annotations do not descend into nested objects on their own.
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var results = new List<ValidationResult>();
        foreach (var (name, value) in new (string, object)[]
        {
            (nameof(Reconnect), Reconnect), (nameof(RegisterRateLimit), RegisterRateLimit), (nameof(LoginRateLimit), LoginRateLimit),
        })
        {
            var nested = new List<ValidationResult>();
            if (!Validator.TryValidateObject(value, new ValidationContext(value), nested, validateAllProperties: true))
            {
                results.AddRange(nested.Select(r => new ValidationResult($"{name}: {r.ErrorMessage}", r.MemberNames.Select(m => $"{name}.{m}"))));
            }
        }

        if (Reconnect.MaxDelayMs < Reconnect.BaseDelayMs)
        {
            results.Add(new ValidationResult("Reconnect.MaxDelayMs must not be below Reconnect.BaseDelayMs.", [nameof(Reconnect)]));
        }

        return results;
    }
}

/// <summary>
/// The reconnect policy handed to clients at login (<see cref="CimAspire.Protocol.ReconnectPolicyDto.DelayBefore"/>): before
/// attempt n a client waits min(max, base * 2^n) less a random share of up to jitter of it. With full jitter (1) the first
/// attempts of a storm spread evenly over the base delay, so a server that died costs its users half of it on average.
/// </summary>
public sealed class ReconnectOptions
{
    [Range(1, 600_000)]
    public int BaseDelayMs { get; set; } = 500;

    [Range(1, 3_600_000)]
    public int MaxDelayMs { get; set; } = 30_000;

    [Range(0.0, 1.0)]
    public double Jitter { get; set; } = 1.0;
}

/// <summary>A fixed window per client IP address.</summary>
public sealed class RateLimitOptions
{
    [Range(1, 1_000_000)]
    public int PermitLimit { get; set; }

    [Range(1, 86_400)]
    public int WindowSeconds { get; set; }
}
