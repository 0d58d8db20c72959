using System.Text.Json.Serialization;

namespace CimAspire.ZooKeeper.Registry;

/// <summary>What an IM server publishes about itself in its registry node (JSON).</summary>
public sealed record ServerRegistration(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("host")] string Host,
    [property: JsonPropertyName("port")] int Port,
    [property: JsonPropertyName("httpAddress")] string? HttpAddress,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("startedAt")] DateTimeOffset StartedAt,
    [property: JsonPropertyName("pid")] int ProcessId);
