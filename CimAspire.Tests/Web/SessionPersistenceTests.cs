using Bunit;
using CimAspire.WebClient.Chat;
using Microsoft.AspNetCore.Components.Server.ProtectedBrowserStorage;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace CimAspire.Tests.Web;

/// <summary>What survives a page reload: the encrypted ticket in session storage, and resuming from it.</summary>
public sealed class SessionPersistenceTests : BunitContext
{
    private const string StorageKey = "cim-session";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly EphemeralDataProtectionProvider _keys = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);

    public SessionPersistenceTests()
    {
        JSInterop.Mode = JSRuntimeMode.Strict;
        JSInterop.SetupVoid("sessionStorage.setItem", _ => true).SetVoidResult();
        JSInterop.SetupVoid("sessionStorage.removeItem", _ => true).SetVoidResult();
    }

    private SessionPersistence PersistenceFor(ChatSession session) =>
        new(new ProtectedSessionStorage(JSInterop.JSRuntime, _keys), session, _time, NullLogger<SessionPersistence>.Instance);

    private static ChatSession NewSession(FakeChatConnection connection) =>
        new(new FakeChatConnectionFactory(connection), TimeProvider.System, NullLogger<ChatSession>.Instance);

    /// <summary>Signs in, saves the ticket, and returns what the browser was asked to store.</summary>
    private async Task<string> SignInAndSaveAsync()
    {
        await using var first = NewSession(new FakeChatConnection(userId: 1, userName: "alice"));
        await first.SignInAsync("alice", "pw").WaitAsync(Timeout);
        await PersistenceFor(first).SaveAsync().WaitAsync(Timeout);
        var stored = Assert.Single(JSInterop.Invocations["sessionStorage.setItem"]);
        Assert.Equal(StorageKey, stored.Arguments[0]);
        return (string)stored.Arguments[1]!;
    }

    [Fact]
    public async Task A_reloaded_tab_resumes_from_the_stored_ticket_which_never_shows_the_token()
    {
        var stored = await SignInAndSaveAsync();
        Assert.DoesNotContain("token-1", stored, StringComparison.Ordinal);
        JSInterop.Setup<string>("sessionStorage.getItem", StorageKey).SetResult(stored);

        var connection = new FakeChatConnection(userId: 1, userName: "alice");
        await using var reloaded = NewSession(connection);
        var resumed = await PersistenceFor(reloaded).TryResumeAsync().WaitAsync(Timeout);

        Assert.True(resumed);
        Assert.True(reloaded.IsSignedIn);
        Assert.Equal("alice", reloaded.UserName);
        Assert.Equal(["token-1"], connection.ResumedWith);
        // The renewed ticket is stored again.
        Assert.Equal(2, JSInterop.Invocations["sessionStorage.setItem"].Count);
    }

    [Fact]
    public async Task An_expired_ticket_is_forgotten_without_asking_the_server()
    {
        var stored = await SignInAndSaveAsync();
        JSInterop.Setup<string>("sessionStorage.getItem", StorageKey).SetResult(stored);
        _time.Advance(TimeSpan.FromHours(13));

        var connection = new FakeChatConnection(userId: 1, userName: "alice");
        await using var reloaded = NewSession(connection);
        var resumed = await PersistenceFor(reloaded).TryResumeAsync().WaitAsync(Timeout);

        Assert.False(resumed);
        Assert.False(reloaded.IsSignedIn);
        Assert.Empty(connection.ResumedWith);
        Assert.Single(JSInterop.Invocations["sessionStorage.removeItem"]);
    }

    [Fact]
    public async Task A_ticket_of_a_session_the_route_api_ended_is_forgotten()
    {
        var stored = await SignInAndSaveAsync();
        JSInterop.Setup<string>("sessionStorage.getItem", StorageKey).SetResult(stored);

        var connection = new FakeChatConnection(userId: 1, userName: "alice")
        {
            ResumeError = new ChatRequestException("The session has ended (logged out or expired); log in again.", 401),
        };
        await using var reloaded = NewSession(connection);
        var resumed = await PersistenceFor(reloaded).TryResumeAsync().WaitAsync(Timeout);

        Assert.False(resumed);
        Assert.False(reloaded.IsSignedIn);
        Assert.Single(JSInterop.Invocations["sessionStorage.removeItem"]);
    }

    [Fact]
    public async Task A_ticket_that_does_not_decrypt_is_forgotten()
    {
        JSInterop.Setup<string>("sessionStorage.getItem", StorageKey).SetResult("not-a-protected-value");

        await using var reloaded = NewSession(new FakeChatConnection(userId: 1, userName: "alice"));
        var resumed = await PersistenceFor(reloaded).TryResumeAsync().WaitAsync(Timeout);

        Assert.False(resumed);
        Assert.Single(JSInterop.Invocations["sessionStorage.removeItem"]);
    }
}
