using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CimAspire.Benchmarks.SignalR;

/// <summary>
/// The SignalR hub as its own process (the harness started again with <see cref="ServeCommand"/>), so it is measured
/// like an IM server: its own CPU time, memory and garbage collector. It prints its address on the first line of
/// standard output and exits when its standard input closes, so it cannot outlive the harness.
/// </summary>
public static class SignalRRelayServer
{
    public const string ServeCommand = "serve-signalr";
    private const string ListeningPrefix = "listening ";

    /// <summary>The child process side.</summary>
    public static async Task<int> ServeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Services.AddSignalR().AddMessagePackProtocol();
        await using var app = builder.Build();
        app.UseWebSockets();
        app.MapHub<RelayHub>(RelayHub.Path);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Console.Out.WriteLine(ListeningPrefix + address);
        Console.Out.Flush();

        // Standard input closing means the harness is gone (or done): stop.
        await Task.Run(() => Console.In.ReadToEnd());
        await app.StopAsync();
        return 0;
    }

    /// <summary>The harness side: starts the hub process and returns it with its URL.</summary>
    public static async Task<RunningHub> StartAsync(CancellationToken cancellationToken)
    {
        var assembly = typeof(SignalRRelayServer).Assembly.Location;
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        var info = new ProcessStartInfo(dotnet)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.ArgumentList.Add(assembly);
        info.ArgumentList.Add(ServeCommand);
        var process = Process.Start(info) ?? throw new InvalidOperationException("The SignalR hub process did not start.");
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        try
        {
            var line = await process.StandardOutput.ReadLineAsync(cancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
            if (line is null || !line.StartsWith(ListeningPrefix, StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"The SignalR hub process did not report its address (said '{line}').");
            }

            return new RunningHub(process, new Uri(new Uri(line[ListeningPrefix.Length..]), RelayHub.Path));
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    public sealed class RunningHub(Process process, Uri url) : IAsyncDisposable
    {
        public Uri Url { get; } = url;

        public int ProcessId { get; } = process.Id;

        public async ValueTask DisposeAsync()
        {
            try
            {
                process.StandardInput.Close();
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
            finally
            {
                process.Dispose();
            }
        }
    }
}
