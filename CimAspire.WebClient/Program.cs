var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapGet("/", () => Results.Content("<!doctype html><title>CimAspire</title><h1>CimAspire</h1>", "text/html"));

app.Run();
