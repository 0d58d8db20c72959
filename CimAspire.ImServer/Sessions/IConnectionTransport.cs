using CimAspire.Protocol;

namespace CimAspire.ImServer.Sessions;

/// <summary>What the protocol needs from a connection; the DotNetty channel adapter in Transport implements it.</summary>
public interface IConnectionTransport
{
    string Id { get; }

    string RemoteAddress { get; }

    /// <summary>Queues a frame; frames are flushed in batches (thread-safe, never blocks).</summary>
    void Send(Envelope envelope);

    /// <summary>Sends the frame, flushes, then closes the connection.</summary>
    void SendAndClose(Envelope envelope);

    /// <summary>Closes the connection, dropping anything still queued.</summary>
    void Abort();
}
