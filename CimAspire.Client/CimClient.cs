using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using CimAspire.Client.Routing;
using CimAspire.Client.Sync;
using CimAspire.Client.Transport;
using CimAspire.Protocol;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace CimAspire.Client;

/// <summary>
/// One user session with CimAspire: logs in through the route API, keeps a TCP connection to the assigned IM server
/// (heartbeat, reconnect, sync), sends with acknowledgement and retries, and raises events for what arrives.
/// Thread-safe. Event handlers run on the client's receive path, in order: keep them short and never block on the
/// client from inside them.
/// </summary>
public sealed class CimClient : IAsyncDisposable
{
    private const int MaxClientMsgIdLength = 128;
    private static readonly ReconnectPolicyDto DefaultReconnect = new(500, 10_000, 1.0);

    private readonly CimClientOptions _options;
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly RouteApiClient _api;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Lock _dispatchLock = new();
    private readonly ConversationTracker _tracker;
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<Envelope>> _pending = new();
    private readonly ConcurrentDictionary<string, byte> _ownInFlight = new(StringComparer.Ordinal);

    // Guarded by _gate.
    private readonly Dictionary<string, long> _pendingReads = new(StringComparer.Ordinal);
    private TaskCompletionSource<ImConnection> _online = NewOnlineSignal();
    private CancellationTokenSource _sessionCts = new();
    private ConnectionState _state;
    private ImConnection? _connection;
    private LoginResponse? _session;
    private bool _quit;
    private bool _disposed;

    private long _nextRequestId;

    // A sync the server asked for (SyncHint): 0 none, 1 running, 2 running and asked for again.
    private int _hintedSync;

    public CimClient(CimClientOptions options, HttpClient? httpClient = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _tracker = new ConversationTracker(options.InitialSyncLimit);
        _ownsHttp = httpClient is null;
        _http = httpClient ?? new HttpClient();
        _api = new RouteApiClient(_http, options.RouteApi);
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<CimClient>();
    }

    /// <summary>Raised once per stored message from someone else (or another session of this user), in sequence order per conversation.</summary>
    public event Action<ChatMessage>? MessageReceived;

    public event Action<Receipt>? ReceiptReceived;

    public event Action<Typing>? TypingReceived;

    public event Action<PresenceChange>? PresenceChanged;

    public event Action<TransientMessage>? TransientReceived;

    public event Action<ConnectionState>? StateChanged;

    public event Action<Kick>? Kicked;

    public ConnectionState State
    {
        get
        {
            lock (_gate)
            {
                return _state;
            }
        }
    }

    public long UserId => Session?.UserId ?? 0;

    public string? UserName => Session?.UserName;

    /// <summary>The IM server this session is (or was last) assigned to.</summary>
    public ServerEndpointDto? Server => Session?.Server;

    /// <summary>The current route API token (tests check that logout really ends it).</summary>
    internal string? SessionToken => Session?.Token;

    /// <summary>What resumes this session later (<see cref="ResumeAsync"/>): its route API token and when that expires; null while logged out.</summary>
    public CimSessionTicket? Ticket => Session is { } session ? new CimSessionTicket(session.Token, session.ExpiresAt) : null;

    private LoginResponse? Session
    {
        get
        {
            lock (_gate)
            {
                return _session;
            }
        }
    }

    public Task<AccountDto> RegisterAsync(string userName, string password, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(userName);
        ArgumentException.ThrowIfNullOrEmpty(password);
        return _api.RegisterAsync(new RegisterRequest(userName, password), ct);
    }

    /// <summary>Logs in through the route API, connects to the assigned server and syncs; <see cref="ConnectionState.Online"/> when done.</summary>
    public Task LoginAsync(string userName, string password, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(userName);
        ArgumentException.ThrowIfNullOrEmpty(password);
        return StartSessionAsync(c => _api.LoginAsync(new LoginRequestDto(userName, password), c), ct);
    }

    /// <summary>
    /// Continues a route API session from its token (see <see cref="Ticket"/>) without the password: the route API
    /// renews it and picks a server, then this connects and syncs like <see cref="LoginAsync"/>. A session that ended
    /// (logged out or expired) fails with a <see cref="CimApiException"/> of status 401.
    /// </summary>
    public Task ResumeAsync(string token, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(token);
        return StartSessionAsync(c => _api.RefreshAsync(token, new RefreshRequest(null), c), ct);
    }

    private async Task StartSessionAsync(Func<CancellationToken, Task<LoginResponse>> obtainSession, CancellationToken ct)
    {
        CancellationToken sessionToken;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_state is ConnectionState.Connecting or ConnectionState.Online or ConnectionState.Reconnecting)
            {
                throw new InvalidOperationException($"This client is already {_state}; log out first.");
            }

            _quit = false;
            _state = ConnectionState.Connecting;

            // Not disposed: a loop of the previous session may still look at its token; it holds no timer.
            _sessionCts = new CancellationTokenSource();
            sessionToken = _sessionCts.Token;
            if (_online.Task.IsCompleted)
            {
                _online = NewOnlineSignal();
            }
        }

        RaiseStateChanged(ConnectionState.Connecting);
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, sessionToken);
            var login = await obtainSession(linked.Token).ConfigureAwait(false);
            lock (_gate)
            {
                _session = login;
            }

            await EstablishAsync(login, linked.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            var changed = false;
            lock (_gate)
            {
                if (_state == ConnectionState.Connecting)
                {
                    _state = ConnectionState.Offline;
                    _session = null;
                    changed = true;
                }
            }

            if (changed)
            {
                RaiseStateChanged(ConnectionState.Offline);
            }

            throw;
        }
    }

    public Task<SendResult> SendAsync(Target to, string text, string? clientMsgId = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new ArgumentException("A message needs some text.", nameof(text));
        }

        return SendAsync(to, ContentType.Text, Encoding.UTF8.GetBytes(text), clientMsgId, ct);
    }

    /// <summary>
    /// Sends a stored message and returns when the server acknowledged it. Retries with the same client message id
    /// (also across a reconnect) when no ack comes within <see cref="CimClientOptions.AckTimeout"/>, so a retry can
    /// never store the message twice; throws <see cref="CimSendException"/> when the server refuses it or every
    /// attempt went unanswered.
    /// </summary>
    public async Task<SendResult> SendAsync(
        Target to, ContentType type, ReadOnlyMemory<byte> body, string? clientMsgId = null, CancellationToken ct = default)
    {
        ValidateTarget(to);
        clientMsgId ??= Guid.NewGuid().ToString("N");
        if (clientMsgId.Length is 0 or > MaxClientMsgIdLength)
        {
            throw new ArgumentException($"A client message id has 1 to {MaxClientMsgIdLength} characters.", nameof(clientMsgId));
        }

        RequireSession();
        using var activity = ClientTelemetry.Source.StartActivity("cim send", ActivityKind.Producer);
        activity?.SetTag("cim.client_msg_id", clientMsgId);
        activity?.SetTag("cim.target", DescribeTarget(to));

        var request = new SendRequest
        {
            ClientMsgId = clientMsgId,
            To = to.Clone(),
            ContentType = type,
            Body = ByteString.CopyFrom(body.Span),
            ClientTimeMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        };

        var reply = new TaskCompletionSource<Envelope>(TaskCreationOptions.RunContinuationsAsynchronously);
        var requestIds = new List<ulong>(1);
        var sent = 0;
        _ownInFlight[clientMsgId] = 0;
        try
        {
            for (var attempt = 1; attempt <= _options.MaxSendAttempts; attempt++)
            {
                ImConnection connection;
                try
                {
                    connection = await WaitOnlineAsync(_options.AckTimeout, ct).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // Still reconnecting: this counts as an attempt, so a send cannot wait forever.
                    continue;
                }
                catch (CimConnectionException e)
                {
                    throw Failed(new CimSendException(clientMsgId, ErrorCode.Unavailable, sent, "The message was not sent: " + e.Message, e));
                }

                var id = NextRequestId();
                requestIds.Add(id);
                _pending[id] = reply;
                var envelope = new Envelope { RequestId = id, Send = request };
                InjectTraceContext(activity, envelope);
                if (!connection.TryEnqueue(envelope))
                {
                    continue;
                }

                sent++;
                try
                {
                    var first = await Task.WhenAny(reply.Task, connection.Closed).WaitAsync(_options.AckTimeout, ct).ConfigureAwait(false);
                    if (first != reply.Task)
                    {
                        continue;
                    }
                }
                catch (TimeoutException)
                {
                    Log.SendAttemptTimedOut(_logger, clientMsgId, attempt);
                    continue;
                }

                var answer = await reply.Task.ConfigureAwait(false);
                if (answer.BodyCase == Envelope.BodyOneofCase.SendAck)
                {
                    var ack = answer.SendAck;
                    activity?.SetTag("cim.conversation_id", ack.ConversationId);
                    activity?.SetTag("cim.seq", ack.Seq);
                    activity?.SetTag("cim.attempts", sent);
                    return new SendResult(
                        clientMsgId,
                        ack.ServerMsgId,
                        ack.ConversationId,
                        ack.Seq,
                        DateTimeOffset.FromUnixTimeMilliseconds(ack.ServerTimeMs),
                        ack.Duplicate);
                }

                var code = answer.BodyCase == Envelope.BodyOneofCase.Error ? answer.Error.Code : ErrorCode.Internal;
                var message = answer.BodyCase == Envelope.BodyOneofCase.Error ? answer.Error.Message : $"unexpected {answer.BodyCase} reply";
                if (!IsRetryable(code) || attempt == _options.MaxSendAttempts)
                {
                    throw Failed(new CimSendException(clientMsgId, code, sent, $"The server refused the message ({code}): {message}"));
                }

                // Transient refusal: wait a little, then retry; earlier attempts' late acks still count.
                reply = new TaskCompletionSource<Envelope>(TaskCreationOptions.RunContinuationsAsynchronously);
                foreach (var earlier in requestIds)
                {
                    _pending[earlier] = reply;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, _options.AckTimeout.TotalMilliseconds / 2) * attempt), ct).ConfigureAwait(false);
            }

            throw Failed(new CimSendException(
                clientMsgId, ErrorCode.Unavailable, sent, $"No acknowledgement after {sent} sends in {_options.MaxSendAttempts} attempts."));
        }
        finally
        {
            foreach (var id in requestIds)
            {
                _pending.TryRemove(id, out _);
            }

            _ownInFlight.TryRemove(clientMsgId, out _);
        }

        Exception Failed(CimSendException e)
        {
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            return e;
        }
    }

    /// <summary>Relays a message to the recipients that are online now: not stored, not acknowledged; dropped while reconnecting.</summary>
    public Task SendTransientAsync(Target to, ReadOnlyMemory<byte> body, CancellationToken ct = default)
    {
        ValidateTarget(to);
        ct.ThrowIfCancellationRequested();
        var envelope = new Envelope
        {
            Send = new SendRequest
            {
                ClientMsgId = Guid.NewGuid().ToString("N"),
                To = to.Clone(),
                ContentType = ContentType.Binary,
                Body = ByteString.CopyFrom(body.Span),
                Transient = true,
                ClientTimeMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            },
        };
        InjectTraceContext(Activity.Current, envelope);
        TrySendNow(envelope);
        return Task.CompletedTask;
    }

    /// <summary>Tells the peer or group that this user is (or stopped) typing; dropped while reconnecting.</summary>
    public Task SendTypingAsync(Target to, bool typing, CancellationToken ct = default)
    {
        ValidateTarget(to);
        ct.ThrowIfCancellationRequested();
        TrySendNow(new Envelope { Notice = new Notice { Typing = new Typing { To = to.Clone(), Typing_ = typing } } });
        return Task.CompletedTask;
    }

    /// <summary>Marks a conversation read up to <paramref name="seq"/>; kept and sent after a reconnect if the connection is down.</summary>
    public Task MarkReadAsync(string conversationId, long seq, CancellationToken ct = default)
    {
        ValidateConversation(conversationId);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(seq);
        ct.ThrowIfCancellationRequested();
        ImConnection? connection;
        lock (_gate)
        {
            RequireSessionLocked();
            connection = _state == ConnectionState.Online ? _connection : null;
            if (connection is null)
            {
                _pendingReads[conversationId] = Math.Max(seq, _pendingReads.GetValueOrDefault(conversationId));
                return Task.CompletedTask;
            }
        }

        if (!connection.TryEnqueue(new Envelope { Read = new ReadReceipt { ConversationId = conversationId, Seq = seq } }))
        {
            lock (_gate)
            {
                _pendingReads[conversationId] = Math.Max(seq, _pendingReads.GetValueOrDefault(conversationId));
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>Acknowledges receipt up to <paramref name="seq"/>; only needed when <see cref="CimClientOptions.AutoAcknowledge"/> is off.</summary>
    public Task AcknowledgeAsync(string conversationId, long seq, CancellationToken ct = default)
    {
        ValidateConversation(conversationId);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(seq);
        ct.ThrowIfCancellationRequested();
        TrySendNow(new Envelope { DeliverAck = new DeliverAck { ConversationId = conversationId, Seq = seq } });
        return Task.CompletedTask;
    }

    public Task<HistoryPage> GetHistoryAsync(string conversationId, long? beforeSeq = null, int limit = 50, CancellationToken ct = default)
    {
        ValidateConversation(conversationId);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        if (beforeSeq is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(beforeSeq), "beforeSeq must be positive.");
        }

        return _api.GetAsync<HistoryPage>(RouteApiUris.History(conversationId, beforeSeq, limit), RequireSession(), ct);
    }

    public async Task<IReadOnlyList<ConversationDto>> GetConversationsAsync(CancellationToken ct = default) =>
        await _api.GetAsync<List<ConversationDto>>(RouteApiUris.Conversations, RequireSession(), ct).ConfigureAwait(false);

    public Task<OnlineUsersPage> GetOnlineUsersAsync(int page = 0, int pageSize = 50, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(page);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pageSize);
        return _api.GetAsync<OnlineUsersPage>(RouteApiUris.OnlineUsers(page, pageSize), RequireSession(), ct);
    }

    public Task<PresenceDto?> GetPresenceAsync(long userId, CancellationToken ct = default) =>
        _api.FindAsync<PresenceDto>(RouteApiUris.PresenceOf(userId), RequireSession(), ct);

    public async Task<IReadOnlyList<AccountDto>> SearchUsersAsync(string prefix, int limit = 20, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        return await _api.GetAsync<List<AccountDto>>(RouteApiUris.AccountSearch(prefix, limit), RequireSession(), ct).ConfigureAwait(false);
    }

    public Task<AccountDto?> FindUserAsync(string userName, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(userName);
        return _api.FindAsync<AccountDto>(RouteApiUris.AccountByName(userName), RequireSession(), ct);
    }

    public Task<AccountDto?> FindUserAsync(long userId, CancellationToken ct = default) =>
        _api.FindAsync<AccountDto>(RouteApiUris.Account(userId), RequireSession(), ct);

    public Task<GroupDto> CreateGroupAsync(string name, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return _api.PostAsync<GroupDto>(RouteApiUris.Groups, RequireSession(), new CreateGroupRequest(name), ct);
    }

    public Task JoinGroupAsync(long groupId, CancellationToken ct = default) =>
        _api.PostAsync<object>(RouteApiUris.GroupJoin(groupId), RequireSession(), null, ct);

    public Task LeaveGroupAsync(long groupId, CancellationToken ct = default) =>
        _api.PostAsync<object>(RouteApiUris.GroupLeave(groupId), RequireSession(), null, ct);

    public async Task<IReadOnlyList<GroupDto>> GetMyGroupsAsync(CancellationToken ct = default) =>
        await _api.GetAsync<List<GroupDto>>(RouteApiUris.Groups, RequireSession(), ct).ConfigureAwait(false);

    public async Task<IReadOnlyList<GroupMemberDto>> GetGroupMembersAsync(long groupId, CancellationToken ct = default) =>
        await _api.GetAsync<List<GroupMemberDto>>(RouteApiUris.GroupMembers(groupId), RequireSession(), ct).ConfigureAwait(false);

    /// <summary>The highest sequence of the conversation received without a hole (0 when nothing is known).</summary>
    public long LastSeq(string conversationId)
    {
        ArgumentNullException.ThrowIfNull(conversationId);
        lock (_dispatchLock)
        {
            return _tracker.LastSeq(conversationId);
        }
    }

    /// <summary>Quits: closes the connection, ends the session at the route API; nothing reconnects afterwards.</summary>
    public Task LogoutAsync(CancellationToken ct = default) => QuitAsync(callRouteApi: true, swallowErrors: false, ct);

    /// <summary>
    /// Closes the connection like <see cref="LogoutAsync"/> but leaves the route API session valid until its token
    /// expires, so <see cref="ResumeAsync"/> can continue it (e.g. a web page that reloads); nothing reconnects meanwhile.
    /// </summary>
    public Task DisconnectAsync() => QuitAsync(callRouteApi: false, swallowErrors: true, CancellationToken.None);

    /// <summary>Quits like <see cref="LogoutAsync"/>, ending the session at the route API only if one is live; never throws for that.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        await QuitAsync(callRouteApi: true, swallowErrors: true, CancellationToken.None).ConfigureAwait(false);
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    private async Task QuitAsync(bool callRouteApi, bool swallowErrors, CancellationToken ct)
    {
        ImConnection? connection;
        LoginResponse? session;
        ConnectionState previous;
        lock (_gate)
        {
            previous = _state;
            _quit = true;
            connection = _connection;
            _connection = null;
            session = previous == ConnectionState.Offline ? null : _session;
            _state = ConnectionState.Offline;
            _pendingReads.Clear();
            _online.TrySetException(new CimConnectionException(ErrorCode.Unavailable, "The client logged out."));
            _online = NewOnlineSignal();
            _sessionCts.Cancel();
        }

        connection?.Close(null);
        if (previous != ConnectionState.Offline)
        {
            RaiseStateChanged(ConnectionState.Offline);
        }

        if (!callRouteApi || session is null)
        {
            return;
        }

        try
        {
            await _api.LogoutAsync(session.Token, ct).ConfigureAwait(false);
        }
        catch (CimApiException e) when (e.StatusCode == 401)
        {
            // The session had already ended (expired or logged out elsewhere): nothing left to end.
        }
        catch (Exception e) when (swallowErrors)
        {
            // Disposing must not throw: the local session is closed either way.
            Log.LogoutFailed(_logger, e);
        }
    }

    private async Task EstablishAsync(LoginResponse login, CancellationToken ct)
    {
        // The assigned server may have died since the route API chose it: ask for another one a few times.
        const int MaxServers = 3;
        var session = login;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var connection = await ConnectAndSyncAsync(session, ct).ConfigureAwait(false);
                if (!TryGoOnline(connection, session))
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                    throw new OperationCanceledException("The client logged out while logging in.");
                }

                return;
            }
            catch (Exception e) when (attempt < MaxServers && IsConnectFailure(e) && !ct.IsCancellationRequested)
            {
                Log.ConnectFailed(_logger, session.UserId, session.Server.ServerId, e);
                session = await _api.RefreshAsync(session.Token, new RefreshRequest(session.Server.ServerId), ct).ConfigureAwait(false);
                lock (_gate)
                {
                    _session = session;
                }
            }
        }
    }

    private async Task<ImConnection> ConnectAndSyncAsync(LoginResponse session, CancellationToken ct)
    {
        var endpoint = new ServerEndpoint(session.Server.ServerId, session.Server.Host, session.Server.Port);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.ConnectTimeout);
        ImConnection connection;
        try
        {
            connection = await ImConnection.ConnectAsync(endpoint, _options.MaxFrameBytes, _logger, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"Connecting to {endpoint.Host}:{endpoint.Port} took longer than {_options.ConnectTimeout}.", e);
        }

        try
        {
            connection.Start(OnFrame, OnBatchEnd);
            connection.TryEnqueue(new Envelope
            {
                RequestId = NextRequestId(),
                Login = new LoginRequest { Token = session.Token, Client = _options.ClientName, DeviceId = _options.DeviceId ?? string.Empty },
            });

            Envelope reply;
            try
            {
                reply = await connection.LoginReply.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException($"Server {endpoint.ServerId} did not answer the login in time.", e);
            }

            if (reply.BodyCase == Envelope.BodyOneofCase.Error)
            {
                throw new CimConnectionException(reply.Error.Code, $"Server {endpoint.ServerId} refused the login ({reply.Error.Code}): {reply.Error.Message}");
            }

            var result = reply.LoginResult;
            var ping = TimeSpan.FromMilliseconds(result.PingIntervalMs > 0 ? result.PingIntervalMs : 30_000);
            var silence = TimeSpan.FromMilliseconds(Math.Max(result.IdleTimeoutMs, 3 * ping.TotalMilliseconds));
            connection.StartHeartbeat(ping, silence);
            await SyncAllAsync(connection, ct).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Asks for the overview, then pages every conversation that has messages after what this session holds.</summary>
    private async Task SyncAllAsync(ImConnection connection, CancellationToken ct)
    {
        var overview = await RequestAsync(connection, new Envelope { Sync = new SyncRequest() }, ct).ConfigureAwait(false);
        var work = new List<(string ConversationId, long After)>();
        lock (_dispatchLock)
        {
            foreach (var conversation in overview.SyncResponse.Conversations)
            {
                var last = _tracker.LastSeq(conversation.ConversationId);
                if (conversation.LastSeq > last || _tracker.HasGap(conversation.ConversationId))
                {
                    work.Add((conversation.ConversationId, last));
                }
            }
        }

        foreach (var (conversationId, after) in work)
        {
            await SyncConversationAsync(connection, conversationId, after, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Pages one conversation forward from <paramref name="afterSeq"/> until the server has no more, then releases
    /// what waited behind holes up to there. A refusal (e.g. no longer a member) releases everything buffered.
    /// </summary>
    private async Task SyncConversationAsync(ImConnection connection, string conversationId, long afterSeq, CancellationToken ct)
    {
        var after = afterSeq;
        try
        {
            while (true)
            {
                var page = await RequestAsync(
                    connection,
                    new Envelope { Sync = new SyncRequest { ConversationId = conversationId, AfterSeq = after, Limit = _options.SyncPageSize } },
                    ct).ConfigureAwait(false);
                var messages = page.SyncResponse.Messages;
                var highest = messages.Count == 0 ? after : Math.Max(after, messages.Max(m => m.Seq));
                var done = !page.SyncResponse.HasMore || highest == after;
                after = highest;
                if (done)
                {
                    break;
                }
            }
        }
        catch (CimConnectionException e)
        {
            Log.GapSyncFailed(_logger, conversationId, e);
            after = long.MaxValue;
        }

        // The server has nothing more up to 'after': a hole below it is a sequence that was never stored.
        var ready = new List<ChatMessage>();
        lock (_dispatchLock)
        {
            _tracker.CloseGap(conversationId, after, ready);
            RaiseMessages(ready);
        }
    }

    private async Task GapSyncAsync(ImConnection connection, string conversationId)
    {
        const int MaxRounds = 3;
        try
        {
            for (var round = 1; round <= MaxRounds; round++)
            {
                await Task.Delay(_options.GapSyncDelay, connection.ClosedToken).ConfigureAwait(false);
                long after;
                lock (_dispatchLock)
                {
                    if (!_tracker.HasGap(conversationId))
                    {
                        return;
                    }

                    after = _tracker.LastSeq(conversationId);
                }

                await SyncConversationAsync(connection, conversationId, after, connection.ClosedToken).ConfigureAwait(false);
            }

            // The server never returned what is missing: release what waits behind the hole rather than hold it forever.
            var ready = new List<ChatMessage>();
            lock (_dispatchLock)
            {
                _tracker.CloseGap(conversationId, long.MaxValue, ready);
                RaiseMessages(ready);
            }
        }
        catch (OperationCanceledException)
        {
            // The connection closed; the sync after the reconnect covers the hole.
        }
        catch (Exception e) when (e is ConnectionLostException or TimeoutException)
        {
            // The sync after the reconnect covers the hole.
            Log.GapSyncFailed(_logger, conversationId, e);
        }
        finally
        {
            lock (_dispatchLock)
            {
                _tracker.GapSyncFinished(conversationId);
            }
        }
    }

    private async Task<Envelope> RequestAsync(ImConnection connection, Envelope envelope, CancellationToken ct)
    {
        var id = NextRequestId();
        envelope.RequestId = id;
        var reply = new TaskCompletionSource<Envelope>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = reply;
        try
        {
            if (!connection.TryEnqueue(envelope))
            {
                throw new ConnectionLostException("The connection closed before the request was sent.");
            }

            var first = await Task.WhenAny(reply.Task, connection.Closed).WaitAsync(_options.ConnectTimeout, ct).ConfigureAwait(false);
            if (first != reply.Task)
            {
                throw new ConnectionLostException("The connection closed before the server answered.");
            }

            var answer = await reply.Task.ConfigureAwait(false);
            if (answer.BodyCase == Envelope.BodyOneofCase.Error)
            {
                throw new CimConnectionException(answer.Error.Code, $"The server refused {envelope.BodyCase} ({answer.Error.Code}): {answer.Error.Message}");
            }

            return answer;
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    private bool TryGoOnline(ImConnection connection, LoginResponse session)
    {
        TaskCompletionSource<ImConnection> online;
        List<KeyValuePair<string, long>> reads;
        lock (_gate)
        {
            if (_quit || _disposed)
            {
                return false;
            }

            _connection = connection;
            _session = session;
            _state = ConnectionState.Online;
            online = _online;
            reads = [.. _pendingReads];
            _pendingReads.Clear();
        }

        foreach (var (conversationId, seq) in reads)
        {
            connection.TryEnqueue(new Envelope { Read = new ReadReceipt { ConversationId = conversationId, Seq = seq } });
        }

        online.TrySetResult(connection);
        Log.Online(_logger, session.UserName, session.UserId, session.Server.ServerId);
        RaiseStateChanged(ConnectionState.Online);
        _ = WatchAsync(connection);
        return true;
    }

    private async Task WatchAsync(ImConnection connection)
    {
        var reason = await connection.Closed.ConfigureAwait(false);
        OnConnectionLost(connection, reason);
    }

    private void OnConnectionLost(ImConnection connection, Exception? reason)
    {
        CancellationToken sessionToken;
        lock (_gate)
        {
            if (!ReferenceEquals(_connection, connection))
            {
                return;
            }

            _connection = null;
            if (_quit || _state != ConnectionState.Online)
            {
                return;
            }

            _state = ConnectionState.Reconnecting;
            _online = NewOnlineSignal();
            sessionToken = _sessionCts.Token;
        }

        Log.ConnectionLost(_logger, UserId, connection.Endpoint.ServerId, reason?.Message ?? "closed");
        RaiseStateChanged(ConnectionState.Reconnecting);
        _ = ReconnectAsync(connection.Endpoint.ServerId, sessionToken);
    }

    private async Task ReconnectAsync(string lostServerId, CancellationToken ct)
    {
        string? avoid = lostServerId;
        Exception? lastError = null;
        try
        {
            for (var attempt = 0; attempt < _options.MaxReconnectAttempts; attempt++)
            {
                var session = Session;
                if (session is null)
                {
                    return;
                }

                var delay = (session.Reconnect ?? DefaultReconnect).DelayBefore(attempt, Random.Shared.NextDouble());
                Log.ReconnectScheduled(_logger, session.UserId, attempt + 1, (long)delay.TotalMilliseconds, avoid);
                await Task.Delay(delay, ct).ConfigureAwait(false);

                LoginResponse fresh;
                try
                {
                    fresh = await _api.RefreshAsync(session.Token, new RefreshRequest(avoid), ct).ConfigureAwait(false);
                }
                catch (CimApiException e) when (e.StatusCode is 401 or 403)
                {
                    Fail("the route API refused the session token: " + e.Message);
                    return;
                }
                catch (CimApiException e)
                {
                    lastError = e;
                    Log.ReconnectAttemptFailed(_logger, session.UserId, attempt + 1, e);
                    continue;
                }

                lock (_gate)
                {
                    if (_quit)
                    {
                        return;
                    }

                    _session = fresh;
                }

                try
                {
                    var connection = await ConnectAndSyncAsync(fresh, ct).ConfigureAwait(false);
                    if (!TryGoOnline(connection, fresh))
                    {
                        await connection.DisposeAsync().ConfigureAwait(false);
                    }

                    return;
                }
                catch (Exception e) when (IsConnectFailure(e) && !ct.IsCancellationRequested)
                {
                    lastError = e;
                    avoid = fresh.Server.ServerId;
                    Log.ReconnectAttemptFailed(_logger, fresh.UserId, attempt + 1, e);
                }
            }

            Fail($"no server was reachable after {_options.MaxReconnectAttempts} attempts ({lastError?.Message})");
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Logged out while reconnecting.
        }
    }

    private void Fail(string reason)
    {
        lock (_gate)
        {
            if (_quit || _state != ConnectionState.Reconnecting)
            {
                return;
            }

            _state = ConnectionState.Failed;
            _online.TrySetException(new CimConnectionException(ErrorCode.Unavailable, "Reconnecting failed: " + reason));
            _online = NewOnlineSignal();
        }

        Log.ReconnectFailed(_logger, UserId, reason);
        RaiseStateChanged(ConnectionState.Failed);
    }

    private async Task<ImConnection> WaitOnlineAsync(TimeSpan timeout, CancellationToken ct)
    {
        Task<ImConnection> online;
        ImConnection? closed = null;
        lock (_gate)
        {
            if (_state == ConnectionState.Online && _connection is { } current)
            {
                if (!current.IsClosed)
                {
                    return current;
                }

                closed = current;
            }
            else if (_state is ConnectionState.Offline or ConnectionState.Failed)
            {
                throw new CimConnectionException(ErrorCode.Unavailable, $"The client is {_state}.");
            }

            online = _online.Task;
        }

        if (closed is not null)
        {
            // The read loop saw the close before the watcher did: start reconnecting now, then wait for it.
            OnConnectionLost(closed, closed.Closed.IsCompleted ? closed.Closed.Result : null);
            lock (_gate)
            {
                online = _online.Task;
            }
        }

        return await online.WaitAsync(timeout, ct).ConfigureAwait(false);
    }

    private void OnFrame(ImConnection connection, Envelope envelope)
    {
        switch (envelope.BodyCase)
        {
            case Envelope.BodyOneofCase.LoginResult:
                connection.LoginReply.TrySetResult(envelope);
                return;
            case Envelope.BodyOneofCase.Error when !connection.LoginReply.Task.IsCompleted:
                connection.LoginReply.TrySetResult(envelope);
                return;
            case Envelope.BodyOneofCase.Deliver:
                Accept(connection, envelope.Deliver.Message);
                break;
            case Envelope.BodyOneofCase.SyncResponse:
                AcceptSync(connection, envelope.SyncResponse);
                break;
            case Envelope.BodyOneofCase.SendAck:
                AcceptOwn(connection, envelope.SendAck);
                break;
            case Envelope.BodyOneofCase.Notice:
                RaiseNotice(envelope.Notice);
                break;
            case Envelope.BodyOneofCase.Receipt:
                Raise(ReceiptReceived, envelope.Receipt);
                break;
            case Envelope.BodyOneofCase.Kick:
                OnKick(connection, envelope.Kick);
                return;
            case Envelope.BodyOneofCase.SyncHint:
                OnSyncHint(connection, envelope.SyncHint);
                return;
            case Envelope.BodyOneofCase.Error when envelope.RequestId == 0 || !_pending.ContainsKey(envelope.RequestId):
                Log.ServerError(_logger, envelope.Error.Code, envelope.Error.Message);
                return;
            default:
                break;
        }

        if (envelope.RequestId != 0 && _pending.TryRemove(envelope.RequestId, out var reply))
        {
            reply.TrySetResult(envelope);
        }
    }

    private void OnBatchEnd(ImConnection connection)
    {
        if (!_options.AutoAcknowledge)
        {
            return;
        }

        List<(string ConversationId, long Seq)>? acks = null;
        lock (_dispatchLock)
        {
            var taken = new List<(string ConversationId, long Seq)>();
            _tracker.TakeAcks(taken);
            if (taken.Count > 0)
            {
                acks = taken;
            }
        }

        if (acks is null)
        {
            return;
        }

        foreach (var (conversationId, seq) in acks)
        {
            connection.TryEnqueue(new Envelope { DeliverAck = new DeliverAck { ConversationId = conversationId, Seq = seq } });
        }
    }

    private void Accept(ImConnection connection, ChatMessage? message)
    {
        if (message is null || string.IsNullOrEmpty(message.ConversationId) || message.Seq <= 0)
        {
            return;
        }

        var ready = new List<ChatMessage>();
        bool gap;
        lock (_dispatchLock)
        {
            gap = _tracker.Accept(message, IsOwn(message), ready);
            gap = gap && _tracker.TryScheduleGapSync(message.ConversationId);
            RaiseMessages(ready);
        }

        if (gap)
        {
            _ = GapSyncAsync(connection, message.ConversationId);
        }
    }

    private void AcceptSync(ImConnection connection, SyncResponse response)
    {
        var ready = new List<ChatMessage>();
        lock (_dispatchLock)
        {
            _tracker.ApplyOverview(response.Conversations);
            foreach (var message in response.Messages)
            {
                if (!string.IsNullOrEmpty(message.ConversationId) && message.Seq > 0)
                {
                    _tracker.Accept(message, IsOwn(message), ready);
                }
            }

            RaiseMessages(ready);
        }

        _ = connection;
    }

    private void AcceptOwn(ImConnection connection, SendAck ack)
    {
        if (string.IsNullOrEmpty(ack.ConversationId) || ack.Seq <= 0)
        {
            return;
        }

        var ready = new List<ChatMessage>();
        bool gap;
        lock (_dispatchLock)
        {
            gap = _tracker.MarkOwn(ack.ConversationId, ack.Seq, ready) && _tracker.TryScheduleGapSync(ack.ConversationId);
            RaiseMessages(ready);
        }

        if (gap)
        {
            _ = GapSyncAsync(connection, ack.ConversationId);
        }
    }

    private bool IsOwn(ChatMessage message) =>
        message.SenderId == UserId && !string.IsNullOrEmpty(message.ClientMsgId) && _ownInFlight.ContainsKey(message.ClientMsgId);

    private void OnKick(ImConnection connection, Kick kick)
    {
        Log.Kicked(_logger, UserId, kick.Reason, kick.Message);
        Raise(Kicked, kick);
        if (kick.Reason is Kick.Types.Reason.Replaced or Kick.Types.Reason.Admin)
        {
            // Someone decided this session must end: reconnecting would fight them.
            var changed = false;
            lock (_gate)
            {
                if (ReferenceEquals(_connection, connection) || _connection is null)
                {
                    _quit = true;
                    _connection = null;
                    changed = _state != ConnectionState.Offline;
                    _state = ConnectionState.Offline;
                    _online.TrySetException(new CimConnectionException(ErrorCode.AlreadyLoggedIn, $"Kicked by the server ({kick.Reason}): {kick.Message}"));
                    _online = NewOnlineSignal();
                    _sessionCts.Cancel();
                }
            }

            connection.Close(null);
            if (changed)
            {
                RaiseStateChanged(ConnectionState.Offline);
            }

            return;
        }

        // Draining (or unspecified): this server is going away; the watcher reconnects elsewhere.
        connection.Close(new ConnectionLostException($"Server {connection.Endpoint.ServerId} asked clients to leave ({kick.Reason})."));
    }

    /// <summary>
    /// The server says pushes may have been lost (its route or its Redis subscription was down): sync everything as after
    /// a reconnect, after a random part of the spread it gives. Hints that arrive during such a sync cause one more.
    /// </summary>
    private void OnSyncHint(ImConnection connection, SyncHint hint)
    {
        Log.SyncHinted(_logger, hint.Reason);
        while (true)
        {
            var state = Volatile.Read(ref _hintedSync);
            if (state == 2)
            {
                return;
            }

            if (Interlocked.CompareExchange(ref _hintedSync, state + 1, state) == state)
            {
                if (state == 0)
                {
                    var delay = TimeSpan.FromMilliseconds(Math.Max(0, hint.SpreadMs) * Random.Shared.NextDouble());
                    _ = HintedSyncAsync(connection, delay);
                }

                return;
            }
        }
    }

    private async Task HintedSyncAsync(ImConnection connection, TimeSpan delay)
    {
        try
        {
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, connection.ClosedToken).ConfigureAwait(false);
            }

            do
            {
                await SyncAllAsync(connection, connection.ClosedToken).ConfigureAwait(false);
            }
            while (Interlocked.Decrement(ref _hintedSync) > 0);
        }
        catch (Exception e) when (e is OperationCanceledException or ConnectionLostException or TimeoutException or CimConnectionException)
        {
            // The connection went (its reconnect syncs everything) or the server refused: nothing more to do here.
            Volatile.Write(ref _hintedSync, 0);
            if (e is not OperationCanceledException)
            {
                Log.HintedSyncFailed(_logger, e);
            }
        }
    }

    private void RaiseNotice(Notice notice)
    {
        switch (notice.KindCase)
        {
            case Notice.KindOneofCase.Typing:
                Raise(TypingReceived, notice.Typing);
                break;
            case Notice.KindOneofCase.Presence:
                Raise(PresenceChanged, notice.Presence);
                break;
            case Notice.KindOneofCase.Transient:
                Raise(TransientReceived, notice.Transient);
                break;
            default:
                break;
        }
    }

    // Called under _dispatchLock so that messages of one conversation are raised in sequence order.
    private void RaiseMessages(List<ChatMessage> ready)
    {
        foreach (var message in ready)
        {
            using var activity = StartReceiveActivity(message);
            Raise(MessageReceived, message);
        }
    }

    private static Activity? StartReceiveActivity(ChatMessage message)
    {
        if (!ClientTelemetry.Source.HasListeners())
        {
            return null;
        }

        ActivityContext.TryParse(message.Traceparent, null, out var parent);
        var activity = ClientTelemetry.Source.StartActivity("cim receive", ActivityKind.Consumer, parent);
        activity?.SetTag("cim.conversation_id", message.ConversationId);
        activity?.SetTag("cim.seq", message.Seq);
        return activity;
    }

    private void Raise<T>(Action<T>? handler, T value)
    {
        if (handler is null)
        {
            return;
        }

        try
        {
            handler(value);
        }
        catch (Exception e)
        {
            // A faulty handler must not break the session (the read loop raises these events).
            Log.HandlerFailed(_logger, e);
        }
    }

    private void RaiseStateChanged(ConnectionState state) => Raise(StateChanged, state);

    private void TrySendNow(Envelope envelope)
    {
        ImConnection? connection;
        lock (_gate)
        {
            RequireSessionLocked();
            connection = _state == ConnectionState.Online ? _connection : null;
        }

        connection?.TryEnqueue(envelope);
    }

    private static void InjectTraceContext(Activity? activity, Envelope envelope)
    {
        activity ??= Activity.Current;
        if (activity is null || activity.IdFormat != ActivityIdFormat.W3C)
        {
            return;
        }

        envelope.Traceparent = activity.Id ?? string.Empty;
        envelope.Tracestate = activity.TraceStateString ?? string.Empty;
    }

    private string RequireSession()
    {
        lock (_gate)
        {
            return RequireSessionLocked();
        }
    }

    private string RequireSessionLocked()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_session is null || _state == ConnectionState.Offline)
        {
            throw new InvalidOperationException("Log in first.");
        }

        return _session.Token;
    }

    private ulong NextRequestId() => (ulong)Interlocked.Increment(ref _nextRequestId);

    private static bool IsRetryable(ErrorCode code) =>
        code is ErrorCode.Unavailable or ErrorCode.Internal or ErrorCode.RateLimited;

    private static bool IsConnectFailure(Exception e) => e is SocketException or TimeoutException or ConnectionLostException
        or IOException or CimConnectionException;

    private static void ValidateTarget(Target to)
    {
        ArgumentNullException.ThrowIfNull(to);
        switch (to.KindCase)
        {
            case Target.KindOneofCase.UserId when to.UserId > 0:
            case Target.KindOneofCase.GroupId when to.GroupId >= 0:
                return;
            default:
                throw new ArgumentException("A target names exactly one user (id > 0) or one group (id >= 0).", nameof(to));
        }
    }

    private static void ValidateConversation(string conversationId)
    {
        if (!ConversationIds.TryParse(conversationId, out _, out _, out _))
        {
            throw new ArgumentException($"'{conversationId}' is not a conversation id (u<low>_<high> or g<group>).", nameof(conversationId));
        }
    }

    private static string DescribeTarget(Target to) =>
        to.KindCase == Target.KindOneofCase.UserId ? "user:" + to.UserId : "group:" + to.GroupId;

    private static TaskCompletionSource<ImConnection> NewOnlineSignal()
    {
        var signal = new TaskCompletionSource<ImConnection>(TaskCreationOptions.RunContinuationsAsynchronously);

        // Observed so that an unawaited failure does not surface as an unobserved task exception.
        _ = signal.Task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        return signal;
    }
}
