using System.Runtime.InteropServices;
using CimAspire.Benchmarks.Relay;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace CimAspire.Benchmarks.SignalR;

/// <summary>A SignalR client of the relay hub: MessagePack protocol, WebSockets only (negotiated once, so the hub hands out the connection ids partners address).</summary>
public sealed class SignalRRelayEndpoint : IRelayEndpoint
{
    private readonly HubConnection _connection;
    private string[] _partners = [];

    private SignalRRelayEndpoint(HubConnection connection)
    {
        _connection = connection;
        _connection.On<byte[]>(RelayHub.ReceiveMethod, body => Received?.Invoke(body));
    }

    public Action<ReadOnlyMemory<byte>>? Received { get; set; }

    /// <summary>Never called: the hub has no per-message refusal.</summary>
    public Action<ReadOnlyMemory<byte>, string>? Refused { get; set; }

    public bool ConfirmsSends => false;

    /// <summary>Never called: the hub confirms nothing.</summary>
    public Action<ReadOnlyMemory<byte>, bool>? Confirmed { get; set; }

    public string ConnectionId => _connection.ConnectionId ?? throw new InvalidOperationException("Not connected.");

    public static async Task<SignalRRelayEndpoint[]> ConnectAsync(Uri hubUrl, int count, CancellationToken cancellationToken)
    {
        var endpoints = new SignalRRelayEndpoint[count];
        try
        {
            // Connect in small parallel batches: faster than one by one, without a connect storm skewing the hub.
            for (var start = 0; start < count; start += 50)
            {
                var batch = Enumerable.Range(start, Math.Min(50, count - start)).Select(async i =>
                {
                    var connection = new HubConnectionBuilder()
                        .WithUrl(hubUrl, HttpTransportType.WebSockets)
                        .AddMessagePackProtocol()
                        .Build();
                    endpoints[i] = new SignalRRelayEndpoint(connection);
                    await connection.StartAsync(cancellationToken);
                });
                await Task.WhenAll(batch).WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
            }
        }
        catch
        {
            foreach (var e in endpoints.Where(e => e is not null))
            {
                await e.DisposeAsync();
            }

            throw;
        }

        var ids = endpoints.Select(e => e.ConnectionId).ToArray();
        foreach (var e in endpoints)
        {
            e._partners = ids;
        }

        return endpoints;
    }

    public ValueTask SendAsync(int partner, ReadOnlyMemory<byte> body)
    {
        var array = MemoryMarshal.TryGetArray(body, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : body.ToArray();
        return new(_connection.SendAsync(RelayHub.SendMethod, _partners[partner], array));
    }

    public async ValueTask DisposeAsync() => await _connection.DisposeAsync();
}
