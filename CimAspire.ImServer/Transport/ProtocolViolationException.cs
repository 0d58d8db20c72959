using CimAspire.Protocol;

namespace CimAspire.ImServer.Transport;

/// <summary>A client broke the framing or encoding rules; the connection gets an error frame and is closed.</summary>
public sealed class ProtocolViolationException(ErrorCode code, string message) : Exception(message)
{
    public ErrorCode Code { get; } = code;
}
