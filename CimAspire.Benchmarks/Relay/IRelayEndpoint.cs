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

    /// <summary>Whether the server confirms each send (then <see cref="Confirmed"/> says whether it must arrive);
    /// otherwise a written message must arrive.</summary>
    bool ConfirmsSends { get; }

    /// <summary>Called when the server confirmed a send, with whether the recipient was online (only then must it arrive).</summary>
    Action<ReadOnlyMemory<byte>, bool>? Confirmed { get; set; }
}
