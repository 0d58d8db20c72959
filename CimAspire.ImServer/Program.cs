// DotNetty hands each socket completion on to its event loop: run it on the socket engine's thread rather than queue it
// to the thread pool first, saving a thread hop per read and write (docs/benchmarks.md). Read when the first socket is
// used, so set before anything starts; an explicit setting wins.
if (Environment.GetEnvironmentVariable(CimAspire.ImServer.Transport.TcpServerHost.InlineCompletionsVariable) is null)
{
    Environment.SetEnvironmentVariable(CimAspire.ImServer.Transport.TcpServerHost.InlineCompletionsVariable, "1");
}

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
