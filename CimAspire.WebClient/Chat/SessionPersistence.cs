using System.Security.Cryptography;
using Microsoft.AspNetCore.Components.Server.ProtectedBrowserStorage;
using Microsoft.JSInterop;

namespace CimAspire.WebClient.Chat;

/// <summary>
/// Keeps a signed-in tab signed in across page reloads. A reload ends the Blazor circuit and with it the
/// <see cref="ChatSession"/>; what survives is the route API ticket (token and expiry, never the password) in the tab's
/// <c>sessionStorage</c>, encrypted and signed with ASP.NET Core Data Protection so only the web client can read it.
/// Session storage belongs to one tab and is gone when the tab closes.
/// </summary>
public sealed partial class SessionPersistence(
    ProtectedSessionStorage storage,
    ChatSession chat,
    TimeProvider time,
    ILogger<SessionPersistence> logger)
{
    private const string StorageKey = "cim-session";

    /// <summary>Stores the current session's ticket (after signing in, and after resuming, which renews it).</summary>
    public async Task SaveAsync()
    {
        if (chat.Ticket is { } ticket)
        {
            await storage.SetAsync(StorageKey, new StoredTicket(ticket.Token, ticket.ExpiresAt));
        }
    }

    /// <summary>Forgets the stored ticket (signing out, or a session that ended).</summary>
    public async Task ForgetAsync()
    {
        try
        {
            await storage.DeleteAsync(StorageKey);
        }
        catch (JSDisconnectedException)
        {
            // The tab is gone, and its session storage with it.
        }
    }

    /// <summary>
    /// Signs the tab in again from its stored ticket, if it has one that has not expired. False means the visitor must
    /// sign in: no ticket, an expired or unreadable one, or a session the route API ended (those are forgotten).
    /// </summary>
    public async Task<bool> TryResumeAsync()
    {
        if (chat.IsSignedIn)
        {
            return true;
        }

        StoredTicket? ticket;
        try
        {
            var stored = await storage.GetAsync<StoredTicket>(StorageKey);
            ticket = stored.Success ? stored.Value : null;
        }
        catch (CryptographicException ex)
        {
            // Written with keys this web client no longer has (or altered in the browser).
            LogUnreadableTicket(logger, ex);
            await ForgetAsync();
            return false;
        }

        if (ticket is null || ticket.ExpiresAt <= time.GetUtcNow())
        {
            if (ticket is not null)
            {
                await ForgetAsync();
            }

            return false;
        }

        try
        {
            await chat.ResumeAsync(ticket.Token);
        }
        catch (ChatRequestException ex)
        {
            LogResumeFailed(logger, ex.StatusCode, ex.Message);
            if (ex.StatusCode == 401)
            {
                await ForgetAsync();
            }

            return false;
        }

        await SaveAsync();
        return true;
    }

    private sealed record StoredTicket(string Token, DateTimeOffset ExpiresAt);

    [LoggerMessage(Level = LogLevel.Information, Message = "The stored session could not be read; the visitor signs in again")]
    private static partial void LogUnreadableTicket(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Resuming the stored session failed ({StatusCode}): {Reason}")]
    private static partial void LogResumeFailed(ILogger logger, int? statusCode, string reason);
}
