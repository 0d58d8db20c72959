using System.Diagnostics;
using System.Threading.Channels;
using CimAspire.Delivery.Dispatch;
using CimAspire.Delivery.Messages;
using CimAspire.Delivery.Routes;
using CimAspire.ImServer.Telemetry;
using CimAspire.Protocol;
using StackExchange.Redis;

namespace CimAspire.ImServer.Sessions;

/// <summary>
/// The protocol of one client connection, independent of the transport: login, heartbeat, send, acks, sync.
/// Frames are handled one at a time in arrival order (so one sender's messages are stored in the order sent);
/// pushes from other parts of the server may arrive on any thread.
/// </summary>
public sealed partial class ClientConnection
{
    private const int MaxQueuedFrames = 1024;
    private const int MaxClientMsgIdLength = 128;

    // Sends whose store request went to Redis but whose dispatch and SendAck are still to come. A client keeping many
    // sends in flight gets them stored in one pipeline instead of one Redis round trip after the other.
    private const int MaxSendsInFlight = 256;

    private readonly IConnectionTransport _transport;
    private readonly ConnectionServices _services;
    private readonly Channel<Envelope> _inbound = Channel.CreateBounded<Envelope>(
        new BoundedChannelOptions(MaxQueuedFrames) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly PendingDeliveries _pending;
    private readonly HashSet<long> _verifiedGroups = [];
    private readonly ILogger _logger;
    private readonly Queue<Task> _sendsInFlight = new();
    private Task _lastSend = Task.CompletedTask;
    private int _closed;
    private volatile bool _loggedIn;

    public ClientConnection(IConnectionTransport transport, ConnectionServices services)
    {
        _transport = transport;
        _services = services;
        _logger = services.Logger;
        _pending = new PendingDeliveries(services.Options.MaxPendingDeliveries);
        _services.Sessions.Opened(this);
        _services.Telemetry.ConnectionOpened();
        Completion = Task.Run(RunAsync);
    }

    public string Id => _transport.Id;

    public long UserId { get; private set; }

    public string UserName { get; private set; } = string.Empty;

    public bool IsLoggedIn => _loggedIn;

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>Completes when the connection closed and its session was released.</summary>
    public Task Completion { get; }

    public int PendingDeliveryCount => _pending.Count;

    /// <summary>A frame arrived (called by the transport, in order).</summary>
    public void Receive(Envelope envelope)
    {
        _services.Telemetry.FrameIn(envelope.BodyCase);
        if (TryHandleInline(envelope))
        {
            return;
        }

        Interlocked.Increment(ref _queuedFrames);
        if (!_inbound.Writer.TryWrite(envelope))
        {
            Fail(ErrorCode.RateLimited, "Too many frames are waiting to be processed.");
        }
    }

    /// <summary>The transport closed (either side): stop processing and release the session.</summary>
    public void Closed()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            _inbound.Writer.TryComplete();
        }
    }

    /// <summary>Sends a fatal error and closes.</summary>
    public void Fail(ErrorCode code, string message)
    {
        if (IsClosed)
        {
            return;
        }

        _services.Telemetry.Error(code);
        LogConnectionFailed(Id, UserId, code, message);
        Write(new Envelope { Error = new Error { Code = code, Message = message, Fatal = true } }, close: true);
        Closed();
    }

    /// <summary>
    /// Closes at once, dropping what is still queued for the client: used when sending more (even an error frame) cannot
    /// work, e.g. for a slow consumer whose outbound queue is full.
    /// </summary>
    public void Abort(ErrorCode code, string message)
    {
        if (IsClosed)
        {
            return;
        }

        _services.Telemetry.Error(code);
        LogAborted(Id, UserId, code, message);
        _transport.Abort();
        Closed();
    }

    /// <summary>Tells the client why it must go, then closes.</summary>
    public void Kick(Kick kick)
    {
        if (IsClosed)
        {
            return;
        }

        LogKicked(Id, UserId, kick.Reason);
        Write(new Envelope { Kick = kick }, close: true);
        Closed();
    }

    /// <summary>Pushes a stored message and remembers it until the client acknowledges it.</summary>
    public void Push(ChatMessage message, string? traceparent)
    {
        if (IsClosed)
        {
            return;
        }

        var now = _services.Time.GetTimestamp();
        _pending.Track(message, now + Ticks(_services.DeliveryOptions.RedeliveryTimeout));
        Write(new Envelope { Deliver = new Deliver { Message = message }, Traceparent = traceparent ?? string.Empty });
    }

    /// <summary>Sends an unsolicited frame (notice, receipt).</summary>
    public void Send(Envelope envelope)
    {
        if (!IsClosed)
        {
            Write(envelope);
        }
    }

    /// <summary>Pushes again what was not acknowledged in time.</summary>
    public int RedeliverDue()
    {
        if (IsClosed || !_loggedIn)
        {
            return 0;
        }

        var now = _services.Time.GetTimestamp();
        var due = _pending.TakeDue(now, now + Ticks(_services.DeliveryOptions.RedeliveryTimeout));
        foreach (var message in due)
        {
            Write(new Envelope { Deliver = new Deliver { Message = message }, Traceparent = message.Traceparent });
        }

        return due.Count;
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    private void Write(Envelope envelope, bool close = false)
    {
        _services.Telemetry.FrameOut(envelope.BodyCase);
        if (close)
        {
            _transport.SendAndClose(envelope);
        }
        else
        {
            _transport.Send(envelope);
        }
    }

    private void Reply(Envelope request, Envelope reply)
    {
        reply.RequestId = request.RequestId;
        if (string.IsNullOrEmpty(reply.Traceparent) && Activity.Current is { } activity)
        {
            reply.Traceparent = activity.Id ?? string.Empty;
        }

        Send(reply);
    }

    private void ReplyError(Envelope request, ErrorCode code, string message)
    {
        _services.Telemetry.Error(code);
        Reply(request, new Envelope { Error = new Error { Code = code, Message = message } });
    }

    private async Task RunAsync()
    {
        try
        {
            await foreach (var envelope in _inbound.Reader.ReadAllAsync())
            {
                if (IsClosed)
                {
                    break;
                }

                if (_loggedIn && envelope.BodyCase == Envelope.BodyOneofCase.Send)
                {
                    await StartSendAsync(envelope);
                    FrameHandled();
                    continue;
                }

                // Anything but acks and pings sees the effects of the sends before it, as if they were handled one by one.
                if (envelope.BodyCase is not (Envelope.BodyOneofCase.DeliverAck or Envelope.BodyOneofCase.Ping))
                {
                    await DrainSendsAsync();
                }

                using var activity = StartFrameActivity(envelope);
                try
                {
                    await HandleAsync(envelope);
                }
                catch (Exception ex)
                {
                    HandleFailure(envelope, activity, ex);
                }

                FrameHandled();
            }
        }
        finally
        {
            Closed();
            await DrainSendsAsync();
            _services.Telemetry.ConnectionClosed();
            await _services.Sessions.ClosedAsync(this, _loggedIn ? UserId : 0);
        }
    }

    private static bool IsRoutineFrame(Envelope envelope) => envelope.BodyCase switch
    {
        Envelope.BodyOneofCase.Ping or Envelope.BodyOneofCase.DeliverAck => true,
        Envelope.BodyOneofCase.Send => envelope.Send.Transient,
        _ => false,
    };

    private Activity? StartFrameActivity(Envelope envelope)
    {
        // Heartbeats, acknowledgements and transient notices are the bulk of the frames and carry no message worth a
        // trace of its own: they get a span only when the client sent its trace context along.
        if (envelope.Traceparent.Length == 0 && IsRoutineFrame(envelope))
        {
            return null;
        }

        var activity = ImServerTelemetry.StartActivity(
            ImServerTelemetry.HandleActivityName(envelope.BodyCase), ActivityKind.Server, envelope.Traceparent, envelope.Tracestate);
        activity?.SetTag("cim.user_id", _userIdTag ?? UserId);
        return activity;
    }

    private void HandleFailure(Envelope envelope, Activity? activity, Exception exception)
    {
        switch (exception)
        {
            case NotAGroupMemberException notMember:
                // The store checks membership itself: the user left the group since this connection verified it.
                ForgetGroup(notMember.GroupId);
                ReplyError(envelope, ErrorCode.NotAMember, $"You are not a member of group {notMember.GroupId}.");
                break;
            case RedisException:
                LogStoreUnavailable(Id, exception);
                activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
                ReplyError(envelope, ErrorCode.Unavailable, "Storage is unavailable; retry with the same client message id.");
                break;
            case TimeoutException:
                LogStoreUnavailable(Id, exception);
                activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
                ReplyError(envelope, ErrorCode.Unavailable, "Storage did not answer in time; retry with the same client message id.");
                break;
            default:
                LogHandlerFailed(Id, envelope.BodyCase, exception);
                activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
                Fail(ErrorCode.Internal, "The server failed to handle a frame.");
                break;
        }
    }

    /// <summary>Waits until every pipelined send was dispatched and answered.</summary>
    private async Task DrainSendsAsync()
    {
        _sendsInFlight.Clear();
        await _lastSend;
    }

    /// <summary>
    /// Checks a send and puts its Redis work on the wire, in frame order (so one sender's messages are stored in the
    /// order sent), then returns; the rest (dispatch, SendAck) runs in <see cref="CompleteSendAsync"/>, chained so that
    /// dispatches and SendAcks still leave in frame order.
    /// </summary>
    private async Task StartSendAsync(Envelope envelope)
    {
        // The span lives on in the completion; being an async method, this one hands the loop back its own context.
        var activity = StartFrameActivity(envelope);
        Task<SendOutcome>? work;
        try
        {
            work = await BeginSendAsync(envelope);
        }
        catch (Exception ex)
        {
            HandleFailure(envelope, activity, ex);
            work = null;
        }

        if (work is null)
        {
            activity?.Dispose();
            return;
        }

        var completion = CompleteSendAsync(envelope, work, _lastSend, activity);
        _lastSend = completion;
        _sendsInFlight.Enqueue(completion);
        while (_sendsInFlight.TryPeek(out var oldest) && oldest.IsCompleted)
        {
            _ = _sendsInFlight.Dequeue();
        }

        if (_sendsInFlight.Count >= MaxSendsInFlight)
        {
            await _sendsInFlight.Dequeue();
        }
    }

    private async Task CompleteSendAsync(Envelope envelope, Task<SendOutcome> work, Task previous, Activity? activity)
    {
        try
        {
            SendOutcome outcome;
            try
            {
                outcome = await work;
            }
            catch (Exception ex)
            {
                await previous;
                HandleFailure(envelope, activity, ex);
                return;
            }

            await previous;
            if (outcome.Plan is not null)
            {
                ObserveDispatch(_services.Dispatcher.Execute(outcome.Plan), outcome.Ack);
            }

            outcome.Ack.OnlineRecipients = outcome.Plan?.OnlineRecipients ?? 0;
            Reply(envelope, new Envelope { SendAck = outcome.Ack });
        }
        catch (Exception ex)
        {
            HandleFailure(envelope, activity, ex);
        }
        finally
        {
            activity?.Dispose();
        }
    }

    private void ObserveDispatch(Task dispatch, SendAck ack)
    {
        if (dispatch.IsCompletedSuccessfully)
        {
            return;
        }

        _ = dispatch.ContinueWith(
            static (t, state) =>
            {
                var (connection, ack) = ((ClientConnection, SendAck))state!;
                connection.LogDispatchFailed(ack.ConversationId, ack.Seq, t.Exception!.GetBaseException());
            },
            (this, ack),
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private Task HandleAsync(Envelope envelope)
    {
        if (!_loggedIn)
        {
            if (envelope.BodyCase != Envelope.BodyOneofCase.Login)
            {
                _services.Telemetry.Login("not_authenticated");
                Fail(ErrorCode.NotAuthenticated, "The first frame must be a login.");
                return Task.CompletedTask;
            }

            return LoginAsync(envelope);
        }

        switch (envelope.BodyCase)
        {
            case Envelope.BodyOneofCase.Ping:
                ReplyPong(envelope);
                return Task.CompletedTask;
            case Envelope.BodyOneofCase.Login:
                _services.Telemetry.Login("already_logged_in");
                Fail(ErrorCode.AlreadyLoggedIn, "This connection is already logged in.");
                return Task.CompletedTask;
            case Envelope.BodyOneofCase.Send:
                // RunAsync hands every send of a logged-in connection to StartSendAsync.
                throw new InvalidOperationException("A send reached the one-by-one handler.");
            case Envelope.BodyOneofCase.DeliverAck:
                return DeliverAckAsync(envelope);
            case Envelope.BodyOneofCase.Read:
                return ReadAsync(envelope);
            case Envelope.BodyOneofCase.Sync:
                return SyncAsync(envelope);
            case Envelope.BodyOneofCase.Notice:
                return NoticeAsync(envelope);
            default:
                ReplyError(envelope, ErrorCode.InvalidRequest, $"A client may not send {envelope.BodyCase} frames.");
                return Task.CompletedTask;
        }
    }

    private async Task LoginAsync(Envelope envelope)
    {
        var status = _services.Tokens.Validate(envelope.Login.Token, _services.Time.GetUtcNow(), out var claims);
        if (status == AccessTokenStatus.Expired)
        {
            _services.Telemetry.Login("token_expired");
            Fail(ErrorCode.TokenExpired, "The token has expired; log in through the route API again.");
            return;
        }

        if (status != AccessTokenStatus.Valid || claims is null)
        {
            _services.Telemetry.Login("invalid_token");
            Fail(ErrorCode.InvalidToken, "The token is not valid.");
            return;
        }

        if (!string.Equals(claims.ServerId, _services.Identity.Id, StringComparison.Ordinal))
        {
            _services.Telemetry.Login("wrong_server");
            Fail(ErrorCode.InvalidToken, "The token was issued for another server.");
            return;
        }

        UserId = claims.UserId;
        UserName = claims.UserName;
        _userIdTag = UserId;
        var outcome = await _services.Sessions.LoginAsync(this, claims.UserId, CancellationToken.None);
        if (outcome != LoginOutcome.Accepted)
        {
            _services.Telemetry.Login("duplicate_rejected");
            Fail(ErrorCode.DuplicateLoginRejected, "The user is already online and this server refuses a second login.");
            return;
        }

        // From here on the session must be released when the connection goes, even if it closed during the claim.
        _loggedIn = true;
        _services.Telemetry.Login("ok");
        LogLoggedIn(Id, UserId, _transport.RemoteAddress);
        Reply(envelope, new Envelope
        {
            LoginResult = new LoginResult
            {
                UserId = claims.UserId,
                UserName = claims.UserName,
                ServerId = _services.Identity.Id,
                PingIntervalMs = (int)_services.Options.PingInterval.TotalMilliseconds,
                IdleTimeoutMs = (int)_services.Options.IdleTimeout.TotalMilliseconds,
                ServerTimeMs = _services.Time.GetUtcNow().ToUnixTimeMilliseconds(),
            },
        });
    }

    /// <summary>What a send came to: its SendAck (without the online count) and where its payload goes.</summary>
    private sealed record SendOutcome(SendAck Ack, DispatchPlan? Plan);

    /// <summary>Checks a send; null when it was refused (the error is sent), else its Redis work, already issued.</summary>
    private async Task<Task<SendOutcome>?> BeginSendAsync(Envelope envelope)
    {
        var send = envelope.Send;
        if (string.IsNullOrEmpty(send.ClientMsgId) || send.ClientMsgId.Length > MaxClientMsgIdLength)
        {
            ReplyError(envelope, ErrorCode.InvalidRequest, $"client_msg_id must have 1 to {MaxClientMsgIdLength} characters.");
            return null;
        }

        if (send.To is null || send.To.KindCase == Target.KindOneofCase.None)
        {
            ReplyError(envelope, ErrorCode.InvalidRequest, "The send names no recipient.");
            return null;
        }

        if (send.Body.Length > _services.DeliveryOptions.MaxBodyBytes)
        {
            ReplyError(envelope, ErrorCode.PayloadTooLarge, $"The body is {send.Body.Length} bytes; the limit is {_services.DeliveryOptions.MaxBodyBytes}.");
            return null;
        }

        if (_services.Sessions.BucketOf(UserId) is { } bucket && !bucket.TryTake())
        {
            ReplyError(envelope, ErrorCode.RateLimited, "Too many messages; slow down and retry with the same client message id.");
            return null;
        }

        if (!await AuthorizeAsync(envelope, send.To))
        {
            return null;
        }

        if (send.Transient)
        {
            var notice = new Notice
            {
                Transient = new TransientMessage
                {
                    FromUserId = UserId, To = send.To, ContentType = send.ContentType, Body = send.Body, ClientMsgId = send.ClientMsgId,
                },
            };
            return PlanTransientAsync(send, _services.Dispatcher.PlanNoticeAsync(UserId, send.To, notice));
        }

        var traceparent = Activity.Current?.Id ?? envelope.Traceparent;
        var request = new AppendRequest(UserId, UserName, send.To, send.ClientMsgId, send.ContentType, send.Body, traceparent);
        if (send.To.KindCase != Target.KindOneofCase.UserId)
        {
            return StoreAsync(_services.Messages.AppendAsync(request), lookup: null);
        }

        // The recipient's route is looked up right behind the store, in the same round trip (see RouteLookup).
        var lookup = new RouteLookup(send.To.UserId);
        return StoreAsync(_services.Messages.AppendAsync(request, lookup.Issue), lookup);
    }

    /// <summary>
    /// The route lookup of a one-to-one send, issued by the store right behind the command that stores the message, so
    /// Redis runs it after the store (it sees every claim made before the message was stored, as a lookup after the
    /// store's reply would) and both share one round trip. Issued again when the store had to be retried.
    /// </summary>
    private sealed class RouteLookup(long recipientId)
    {
        public Task<IReadOnlyList<RouteEntry>>? Routes { get; private set; }

        public void Issue(IDatabaseAsync db) => Routes = RouteStore.LookupRouteBehind(db, recipientId);
    }

    private async Task<SendOutcome> PlanTransientAsync(SendRequest send, Task<DispatchPlan> plan)
    {
        var ack = new SendAck { ClientMsgId = send.ClientMsgId, ServerTimeMs = _services.Time.GetUtcNow().ToUnixTimeMilliseconds() };
        return new SendOutcome(ack, await plan);
    }

    private async Task<SendOutcome> StoreAsync(Task<AppendResult> append, RouteLookup? lookup)
    {
        var result = await append;
        var message = result.Message;
        if (!result.Duplicate)
        {
            _services.Telemetry.Stored();
        }

        var ack = new SendAck
        {
            ClientMsgId = message.ClientMsgId,
            ServerMsgId = message.ServerMsgId,
            ConversationId = message.ConversationId,
            Seq = message.Seq,
            ServerTimeMs = message.ServerTimeMs,
            Duplicate = result.Duplicate,
        };

        // A retry is dispatched again too: the first attempt may have stored the message and died before dispatching.
        // A failed lookup does not fail the send: the message is stored, and recipients get it by sync.
        try
        {
            // The store completed after its follow-up was issued, so Routes holds the lookup that ran behind it.
            var plan = lookup?.Routes is { } routes
                ? MessageDispatcher.PlanMessage(message, await routes)
                : await _services.Dispatcher.PlanMessageAsync(message);
            return new SendOutcome(ack, plan);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            LogDispatchFailed(message.ConversationId, message.Seq, ex);
            return new SendOutcome(ack, null);
        }
    }

    private async Task<bool> AuthorizeAsync(Envelope envelope, Target to)
    {
        if (to.KindCase == Target.KindOneofCase.UserId)
        {
            var recipient = to.UserId;
            if (recipient == UserId || _services.KnownUsers.ContainsKey(recipient))
            {
                return true;
            }

            if (recipient > 0 && await _services.Groups.UserExistsAsync(recipient))
            {
                _services.KnownUsers.TryAdd(recipient, true);
                return true;
            }

            ReplyError(envelope, ErrorCode.UnknownRecipient, $"There is no user {recipient}.");
            return false;
        }

        if (await IsMemberAsync(to.GroupId))
        {
            return true;
        }

        var exists = await _services.Groups.ExistsAsync(to.GroupId);
        ReplyError(envelope, exists ? ErrorCode.NotAMember : ErrorCode.UnknownRecipient,
            exists ? $"You are not a member of group {to.GroupId}." : $"There is no group {to.GroupId}.");
        return false;
    }

    /// <summary>
    /// Whether the user is in the group, from what this connection verified before unless <paramref name="fresh"/>. The
    /// cache only saves lookups: the store refuses a message from a non-member itself (and the connection then forgets
    /// the group), group notices go only to senders in the member list, and syncs look membership up fresh.
    /// </summary>
    private async Task<bool> IsMemberAsync(long groupId, bool fresh = false)
    {
        if (!fresh)
        {
            lock (_verifiedGroups)
            {
                if (_verifiedGroups.Contains(groupId))
                {
                    return true;
                }
            }
        }

        if (!await _services.Groups.IsMemberAsync(groupId, UserId))
        {
            ForgetGroup(groupId);
            return false;
        }

        lock (_verifiedGroups)
        {
            _verifiedGroups.Add(groupId);
        }

        return true;
    }

    private void ForgetGroup(long groupId)
    {
        lock (_verifiedGroups)
        {
            _verifiedGroups.Remove(groupId);
        }
    }

    /// <summary>Whether the user belongs to the conversation (a party of a pair, a member of a group).</summary>
    private async Task<bool> CanAccessAsync(string conversationId, bool fresh = false)
    {
        var peer = ConversationIds.PeerOf(conversationId, UserId);
        return peer is not null && (peer.KindCase == Target.KindOneofCase.UserId || await IsMemberAsync(peer.GroupId, fresh));
    }

    private async Task DeliverAckAsync(Envelope envelope)
    {
        var ack = envelope.DeliverAck;
        if (ack.Seq <= 0 || !await CanAccessAsync(ack.ConversationId))
        {
            ReplyError(envelope, ErrorCode.InvalidRequest, "The acknowledgement names no conversation of yours or no sequence.");
            return;
        }

        Acknowledge(ack);
    }

    private async Task ReadAsync(Envelope envelope)
    {
        var read = envelope.Read;
        if (read.Seq <= 0 || !await CanAccessAsync(read.ConversationId))
        {
            ReplyError(envelope, ErrorCode.InvalidRequest, "The read receipt names no conversation of yours or no sequence.");
            return;
        }

        _pending.Acknowledge(read.ConversationId, read.Seq);
        var moved = await _services.Messages.AdvanceReadAsync([new CursorUpdate(read.ConversationId, UserId, read.Seq)]);
        foreach (var update in moved)
        {
            await _services.Dispatcher.DispatchCursorReceiptAsync(update.ConversationId, UserId, Receipt.Types.Kind.Read, update.Seq);
        }
    }

    private async Task SyncAsync(Envelope envelope)
    {
        var sync = envelope.Sync;
        var response = new SyncResponse();
        if (string.IsNullOrEmpty(sync.ConversationId))
        {
            var lastMessageBytes = 0L;
            foreach (var summary in await _services.Messages.GetConversationsAsync(UserId))
            {
                var state = new ConversationState
                {
                    ConversationId = summary.ConversationId,
                    LastSeq = summary.LastSeq,
                    DeliveredSeq = summary.DeliveredSeq,
                    ReadSeq = summary.ReadSeq,
                    Unread = summary.Unread,
                    Peer = summary.Peer,
                };
                // The last messages share the page's byte budget; past it the client pages the conversation instead.
                if (summary.LastMessage is { } last && (lastMessageBytes += last.CalculateSize()) <= _services.DeliveryOptions.MaxPageBytes)
                {
                    state.LastMessage = last;
                }

                response.Conversations.Add(state);
            }
        }
        else
        {
            if (!await CanAccessAsync(sync.ConversationId, fresh: true))
            {
                ReplyError(envelope, ErrorCode.NotAMember, "The sync names no conversation of yours.");
                return;
            }

            var page = await _services.Messages.ReadAfterAsync(sync.ConversationId, Math.Max(0, sync.AfterSeq), sync.Limit);
            response.Messages.AddRange(page.Messages);
            response.HasMore = page.HasMore;
        }

        Reply(envelope, new Envelope { SyncResponse = response });
    }

    private async Task NoticeAsync(Envelope envelope)
    {
        var notice = envelope.Notice;
        if (notice.KindCase != Notice.KindOneofCase.Typing || notice.Typing.To is null || notice.Typing.To.KindCase == Target.KindOneofCase.None)
        {
            ReplyError(envelope, ErrorCode.InvalidRequest, "A client may only send typing notices, with a target.");
            return;
        }

        if (_services.Sessions.BucketOf(UserId) is { } bucket && !bucket.TryTake())
        {
            ReplyError(envelope, ErrorCode.RateLimited, "Too many notices; slow down.");
            return;
        }

        if (!await AuthorizeAsync(envelope, notice.Typing.To))
        {
            return;
        }

        var relayed = new Notice { Typing = new Typing { To = notice.Typing.To, FromUserId = UserId, Typing_ = notice.Typing.Typing_ } };
        await _services.Dispatcher.DispatchNoticeAsync(UserId, notice.Typing.To, relayed);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Connection {ConnectionId} logged in as user {UserId} from {RemoteAddress}")]
    private partial void LogLoggedIn(string connectionId, long userId, string remoteAddress);

    [LoggerMessage(Level = LogLevel.Information, Message = "Connection {ConnectionId} (user {UserId}) closed with {Code}: {Reason}")]
    private partial void LogConnectionFailed(string connectionId, long userId, ErrorCode code, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Connection {ConnectionId} (user {UserId}) dropped with {Code}: {Reason}")]
    private partial void LogAborted(string connectionId, long userId, ErrorCode code, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Connection {ConnectionId} (user {UserId}) kicked: {Reason}")]
    private partial void LogKicked(string connectionId, long userId, Kick.Types.Reason reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storage unavailable while handling a frame on connection {ConnectionId}")]
    private partial void LogStoreUnavailable(string connectionId, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dispatching message {Seq} of {ConversationId} failed; recipients will get it by sync")]
    private partial void LogDispatchFailed(string conversationId, long seq, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling a {FrameType} frame on connection {ConnectionId} failed")]
    private partial void LogHandlerFailed(string connectionId, Envelope.BodyOneofCase frameType, Exception exception);
}
