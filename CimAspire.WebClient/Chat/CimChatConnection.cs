using System.Diagnostics;
using CimAspire.Client;
using CimAspire.Protocol;
using Microsoft.Extensions.Options;

namespace CimAspire.WebClient.Chat;

/// <summary>Makes a <see cref="CimClient"/> per browser session, over the route API client from service discovery.</summary>
public sealed class CimChatConnectionFactory(
    IHttpClientFactory httpClientFactory,
    IOptions<WebClientOptions> options,
    ILoggerFactory loggerFactory) : IChatConnectionFactory
{
    public const string HttpClientName = "route-api";

    public IChatConnection Create()
    {
        var settings = options.Value;
        var http = httpClientFactory.CreateClient(HttpClientName);
        var client = new CimClient(
            new CimClientOptions { RouteApi = settings.RouteApi, ClientName = settings.ClientName },
            http,
            loggerFactory);
        return new CimChatConnection(client);
    }
}

/// <summary>The client SDK seen through <see cref="IChatConnection"/>; route API problems become messages for the user.</summary>
public sealed class CimChatConnection(CimClient client) : IChatConnection
{
    public ChatConnectionState State => Map(client.State);

    public long UserId => client.UserId;

    public string? UserName => client.UserName;

    public string? ServerId => client.Server?.ServerId;

    public CimSessionTicket? Ticket => client.Ticket;

    public event Action<ChatMessage>? MessageReceived
    {
        add => client.MessageReceived += value;
        remove => client.MessageReceived -= value;
    }

    public event Action<Receipt>? ReceiptReceived
    {
        add => client.ReceiptReceived += value;
        remove => client.ReceiptReceived -= value;
    }

    public event Action<Typing>? TypingReceived
    {
        add => client.TypingReceived += value;
        remove => client.TypingReceived -= value;
    }

    public event Action<PresenceChange>? PresenceChanged
    {
        add => client.PresenceChanged += value;
        remove => client.PresenceChanged -= value;
    }

    public event Action<Kick>? Kicked
    {
        add => client.Kicked += value;
        remove => client.Kicked -= value;
    }

    public event Action<ChatConnectionState>? StateChanged;

    private void OnStateChanged(ConnectionState state) => StateChanged?.Invoke(Map(state));

    public Task<AccountDto> RegisterAsync(string userName, string password, CancellationToken ct = default) =>
        Call(() => client.RegisterAsync(userName, password, ct));

    public Task LoginAsync(string userName, string password, CancellationToken ct = default)
    {
        client.StateChanged -= OnStateChanged;
        client.StateChanged += OnStateChanged;
        return Call(() => client.LoginAsync(userName, password, ct));
    }

    public Task ResumeAsync(string token, CancellationToken ct = default)
    {
        client.StateChanged -= OnStateChanged;
        client.StateChanged += OnStateChanged;
        return Call(() => client.ResumeAsync(token, ct));
    }

    public Task DisconnectAsync() => client.DisconnectAsync();

    public async Task<ChatSendResult> SendAsync(Target to, string text, string clientMsgId, CancellationToken ct = default)
    {
        // Cleared here, inside this async method, so only this send starts a new trace (see WebClientTelemetry.StartSend).
        var ambient = Activity.Current?.Context ?? default;
        Activity.Current = null;
        using var activity = WebClientTelemetry.StartSend(to, clientMsgId, ambient);
        try
        {
            var result = await Call(() => client.SendAsync(to, text, clientMsgId, ct));
            activity?.SetTag("cim.conversation_id", result.ConversationId);
            activity?.SetTag("cim.seq", result.Seq);
            return new ChatSendResult(result.ClientMsgId, result.ServerMsgId, result.ConversationId, result.Seq, result.ServerTime);
        }
        catch (Exception ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            throw;
        }
    }

    public Task SendTypingAsync(Target to, bool typing, CancellationToken ct = default) =>
        Call(() => client.SendTypingAsync(to, typing, ct));

    public Task MarkReadAsync(string conversationId, long seq, CancellationToken ct = default) =>
        Call(() => client.MarkReadAsync(conversationId, seq, ct));

    public Task<HistoryPage> GetHistoryAsync(string conversationId, long? beforeSeq, int limit, CancellationToken ct = default) =>
        Call(() => client.GetHistoryAsync(conversationId, beforeSeq, limit, ct));

    public Task<IReadOnlyList<ConversationDto>> GetConversationsAsync(CancellationToken ct = default) =>
        Call(() => client.GetConversationsAsync(ct));

    public Task<OnlineUsersPage> GetOnlineUsersAsync(int page, int pageSize, CancellationToken ct = default) =>
        Call(() => client.GetOnlineUsersAsync(page, pageSize, ct));

    public Task<IReadOnlyList<AccountDto>> SearchUsersAsync(string prefix, int limit, CancellationToken ct = default) =>
        Call(() => client.SearchUsersAsync(prefix, limit, ct));

    public Task<GroupDto> CreateGroupAsync(string name, CancellationToken ct = default) =>
        Call(() => client.CreateGroupAsync(name, ct));

    public Task JoinGroupAsync(long groupId, CancellationToken ct = default) =>
        Call(() => client.JoinGroupAsync(groupId, ct));

    public Task LeaveGroupAsync(long groupId, CancellationToken ct = default) =>
        Call(() => client.LeaveGroupAsync(groupId, ct));

    public Task<IReadOnlyList<GroupDto>> GetMyGroupsAsync(CancellationToken ct = default) =>
        Call(() => client.GetMyGroupsAsync(ct));

    public Task<IReadOnlyList<GroupMemberDto>> GetGroupMembersAsync(long groupId, CancellationToken ct = default) =>
        Call(() => client.GetGroupMembersAsync(groupId, ct));

    public Task LogoutAsync(CancellationToken ct = default) => Call(() => client.LogoutAsync(ct));

    public async ValueTask DisposeAsync()
    {
        client.StateChanged -= OnStateChanged;
        await client.DisposeAsync();
    }

    private static ChatConnectionState Map(ConnectionState state) => state switch
    {
        ConnectionState.Connecting => ChatConnectionState.Connecting,
        ConnectionState.Online => ChatConnectionState.Online,
        ConnectionState.Reconnecting => ChatConnectionState.Reconnecting,
        ConnectionState.Failed => ChatConnectionState.Failed,
        _ => ChatConnectionState.Offline,
    };

    private static async Task Call(Func<Task> call)
    {
        try
        {
            await call();
        }
        catch (Exception ex) when (Translate(ex) is { } translated)
        {
            throw translated;
        }
    }

    private static async Task<T> Call<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (Exception ex) when (Translate(ex) is { } translated)
        {
            throw translated;
        }
    }

    // The route API's problem details and the SDK's messages are written for people: show them as they are.
    private static ChatRequestException? Translate(Exception ex) => ex switch
    {
        CimApiException { StatusCode: 0 } api => new("The chat service cannot be reached right now. Try again.", null, api),
        CimApiException api => new(api.Detail ?? api.Title ?? api.Message, api.StatusCode, api),
        CimConnectionException connection => new(connection.Message, null, connection),
        CimSendException send => new(send.TimedOut ? "No answer from the chat server in time." : send.Message, null, send),
        _ => null,
    };
}
