using Microsoft.AspNetCore.SignalR;

namespace CimAspire.Benchmarks.SignalR;

/// <summary>The baseline: what a .NET developer would write for a 1:1 relay. The client names its partner's connection id.</summary>
public sealed class RelayHub : Hub
{
    public const string Path = "/relay";
    public const string SendMethod = "Send";
    public const string ReceiveMethod = "Receive";

    public Task Send(string partnerConnectionId, byte[] body) =>
        Clients.Client(partnerConnectionId).SendAsync(ReceiveMethod, body);
}
