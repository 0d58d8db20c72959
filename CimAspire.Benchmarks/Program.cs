using CimAspire.Benchmarks;
using CimAspire.Benchmarks.SignalR;

if (args is [SignalRRelayServer.ServeCommand])
{
    return await SignalRRelayServer.ServeAsync();
}

return await BenchmarkProgram.RunAsync(args, Console.Out);
