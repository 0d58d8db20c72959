using CimAspire.Protocol;

namespace CimAspire.Client;

/// <summary>A send that did not get stored: the server refused it, or no ack came after every attempt.</summary>
public sealed class CimSendException : Exception
{
    public CimSendException(string clientMsgId, ErrorCode code, int attempts, string message, Exception? inner = null)
        : base(message, inner)
    {
        ClientMsgId = clientMsgId;
        Code = code;
        Attempts = attempts;
    }

    /// <summary>The id the send used on every attempt; sending again with it cannot create a duplicate.</summary>
    public string ClientMsgId { get; }

    /// <summary>The server's error code, or <see cref="ErrorCode.Unavailable"/> when no ack came in time.</summary>
    public ErrorCode Code { get; }

    /// <summary>How many times the frame was sent.</summary>
    public int Attempts { get; }

    /// <summary>True when the client gave up waiting rather than the server refusing.</summary>
    public bool TimedOut => Code == ErrorCode.Unavailable;
}
