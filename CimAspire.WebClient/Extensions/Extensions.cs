using System.ComponentModel.DataAnnotations;
using CimAspire.WebClient.Chat;

namespace CimAspire.WebClient.Extensions;

public static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();

        builder.Services.AddOptions<WebClientOptions>()
            .BindConfiguration(WebClientOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        // The route API's address comes from service discovery ("services:route-api:http:0" under the AppHost).
        builder.Services.AddHttpClient("route-api");
        // TODO(sdk): builder.Services.AddSingleton<IChatConnectionFactory, CimChatConnectionFactory>();
        builder.Services.AddSingleton(TimeProvider.System);

        // Scoped = one per Blazor circuit: one IM session per browser tab, ended when the circuit goes away.
        builder.Services.AddScoped<ChatSession>();
        builder.Services.AddScoped<BrowserTime>();
    }
}

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
