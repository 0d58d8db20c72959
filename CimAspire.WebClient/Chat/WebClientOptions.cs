using System.ComponentModel.DataAnnotations;

namespace CimAspire.WebClient.Chat;

/// <summary>Configuration section <c>Cim:WebClient</c>.</summary>
public sealed class WebClientOptions
{
    public const string SectionName = "Cim:WebClient";

    /// <summary>The route API; "http://route-api" is resolved by service discovery.</summary>
    [Required]
    public Uri RouteApi { get; set; } = new("http://route-api");

    /// <summary>How this client introduces itself to the IM server.</summary>
    [Required]
    public string ClientName { get; set; } = "cim-web/1.0";
}
