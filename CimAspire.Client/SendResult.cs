namespace CimAspire.Client;

/// <summary>What the server said when it stored a message.</summary>
/// <param name="Duplicate">True when an earlier attempt had already been stored (a retry).</param>
public sealed record SendResult(
    string ClientMsgId,
    string ServerMsgId,
    string ConversationId,
    long Seq,
    DateTimeOffset ServerTime,
    bool Duplicate);
