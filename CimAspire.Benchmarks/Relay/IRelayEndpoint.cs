namespace CimAspire.Benchmarks.Relay;

/// <summary>
/// One connected client of a 1:1 relay, whatever the system underneath (CimAspire transient messages or a SignalR hub),
/// so both are driven by the same code with the same window and payload.
/// </summary>
public interface IRelayEndpoint : IAsyncDisposable
{
    /// <summary>Hands a message for the partner to the transport; completes when it is written, not when it arrives.</summary>
    ValueTask SendAsync(int partner, ReadOnlyMemory<byte> body);

    /// <summary>Called on the endpoint's receive loop with each relayed message body.</summary>
    Action<ReadOnlyMemory<byte>>? Received { get; set; }

    /// <summary>Called with the body of a message the server refused (it will never arrive).</summary>
    Action<ReadOnlyMemory<byte>, string>? Refused { get; set; }
}
