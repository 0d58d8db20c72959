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
        builder.Services.AddHttpClient(CimChatConnectionFactory.HttpClientName);
        builder.Services.AddSingleton<IChatConnectionFactory, CimChatConnectionFactory>();
        builder.Services.AddSingleton(TimeProvider.System);

        // Scoped = one per Blazor circuit: one IM session per browser tab, ended when the circuit goes away.
        builder.Services.AddScoped<ChatSession>();
        builder.Services.AddScoped<SessionPersistence>();
        builder.Services.AddScoped<BrowserTime>();
    }
}
