using CimAspire.WebClient.Components;
using CimAspire.WebClient.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();
// Serve the framework's and the components' assets from the build output in every environment, not only Development
// (the AppHost and its tests run the project unpublished); a published app has them in wwwroot and this does nothing.
builder.WebHost.UseStaticWebAssets();

var app = builder.Build();

app.MapDefaultEndpoints();
app.UseAntiforgery();
app.MapStaticAssets();
app.MapRazorComponents<App>().AddInteractiveServerRenderMode();

app.Run();
