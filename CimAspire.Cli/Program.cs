using System.Text;
using CimAspire.Cli;
using CimAspire.Client;

var options = CliOptions.Parse(args, Environment.GetEnvironmentVariable, out var error);
if (options is null)
{
    if (!string.IsNullOrEmpty(error))
    {
        Console.Error.WriteLine($"cim: {error}");
    }

    Console.Error.WriteLine(CliOptions.Usage);
    return string.IsNullOrEmpty(error) ? 0 : 2;
}

Console.OutputEncoding = Encoding.UTF8;
var color = options.Color ?? (!Console.IsOutputRedirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR")));
await using var client = new CimClient(new CimClientOptions
{
    RouteApi = options.Route,
    ClientName = "cim-cli/1.0",
    InitialSyncLimit = options.InitialSyncLimit,
});
var chat = new ChatConsole(client, Console.In, new ConsoleOutput(Console.Out, color));
Console.CancelKeyPress += (_, e) =>
{
    // Ctrl+C quits like :q! (log out, no reconnect) instead of killing the process mid-send.
    e.Cancel = true;
    chat.RequestQuit();
};
return await chat.RunAsync(options);
