namespace CimAspire.Client;

/// <summary>A route API session that <see cref="CimClient.ResumeAsync"/> can continue: its bearer token, valid until <paramref name="ExpiresAt"/>.</summary>
public sealed record CimSessionTicket(string Token, DateTimeOffset ExpiresAt)
{
    // The token is a credential: keep it out of logs and exception messages.
    public override string ToString() => $"CimSessionTicket {{ ExpiresAt = {ExpiresAt:O} }}";
}
