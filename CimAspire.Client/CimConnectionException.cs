using CimAspire.Protocol;

namespace CimAspire.Client;

/// <summary>The IM server could not be reached or refused the login, or the client is not connected.</summary>
public sealed class CimConnectionException : Exception
{
    public CimConnectionException(ErrorCode code, string message, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
    }

    /// <summary>The server's error code; <see cref="ErrorCode.Unavailable"/> when no server could be reached.</summary>
    public ErrorCode Code { get; }
}
