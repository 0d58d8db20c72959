using System.Text.Json;
using System.Text.Json.Serialization;

namespace CimAspire.ZooKeeper.Registry;

[JsonSerializable(typeof(ServerRegistration))]
internal sealed partial class RegistryJsonContext : JsonSerializerContext;

/// <summary>The registry node's data: the JSON of a <see cref="ServerRegistration"/>.</summary>
public static class RegistryJson
{
    /// <summary>Encodes a registration as UTF-8 JSON.</summary>
    public static byte[] Serialize(ServerRegistration registration)
    {
        return JsonSerializer.SerializeToUtf8Bytes(registration, RegistryJsonContext.Default.ServerRegistration);
    }

    /// <summary>Decodes a registration; null when the bytes are not a valid registration (missing id or host, bad JSON).</summary>
    public static ServerRegistration? TryDeserialize(ReadOnlySpan<byte> json, out string? error)
    {
        try
        {
            var registration = JsonSerializer.Deserialize(json, RegistryJsonContext.Default.ServerRegistration);
            if (registration is null || string.IsNullOrEmpty(registration.Id) || string.IsNullOrEmpty(registration.Host)
                || registration.Port is < 1 or > 65535)
            {
                error = "the JSON lacks an id, a host or a valid port";
                return null;
            }

            error = null;
            return registration;
        }
        catch (JsonException ex)
        {
            error = ex.Message;
            return null;
        }
    }
}
