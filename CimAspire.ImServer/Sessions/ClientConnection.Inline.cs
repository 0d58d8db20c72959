using CimAspire.Delivery.Messages;
using CimAspire.Protocol;

namespace CimAspire.ImServer.Sessions;

/// <summary>
/// Frames that need neither Redis nor waiting (pings, transient messages to a user this server holds, acknowledgements
/// of one-to-one or already verified group conversations) are handled on the transport's thread as they arrive, instead
/// of hopping to the connection's handler loop and back: the hop (a channel write, a thread-pool dispatch, a wake-up)
/// cost more than the work. Only while nothing of this connection is waiting in or running on the handler loop, so
/// frames are still answered in the order they arrived; anything unusual (an error to report, a recipient elsewhere or
/// not known yet) takes the handler loop, which answers it as before.
/// </summary>
public sealed partial class ClientConnection
{
    // Frames handed to the handler loop whose handling has not finished (pipelined sends are covered by _lastSend).
    private int _queuedFrames;

    // The user id boxed once, for the span tag every frame carries.
    private object? _userIdTag;

    private bool TryHandleInline(Envelope envelope)
    {
        // The decrement of _queuedFrames publishes the handler loop's _lastSend: read the count first.
        if (!_loggedIn || Volatile.Read(ref _queuedFrames) != 0 || !_lastSend.IsCompleted || IsClosed)
        {
            return false;
        }

        return envelope.BodyCase switch
        {
            Envelope.BodyOneofCase.Ping => HandlePingInline(envelope),
            Envelope.BodyOneofCase.Send => envelope.Send.Transient && TryRelayInline(envelope),
            Envelope.BodyOneofCase.DeliverAck => TryAcknowledgeInline(envelope),
            _ => false,
        };
    }

    /// <summary>The handler loop finished a frame (for a pipelined send: handed it on to its completion chain).</summary>
    private void FrameHandled() => Interlocked.Decrement(ref _queuedFrames);

    private bool HandlePingInline(Envelope envelope)
    {
        using var activity = StartFrameActivity(envelope);
        ReplyPong(envelope);
        return true;
    }

    private void ReplyPong(Envelope envelope) => Reply(envelope, new Envelope
    {
        Pong = new Pong { ClientTimeMs = envelope.Ping.ClientTimeMs, ServerTimeMs = _services.Time.GetUtcNow().ToUnixTimeMilliseconds() },
    });

    /// <summary>A transient message to one user held by this server: relayed at once, no Redis.</summary>
    private bool TryRelayInline(Envelope envelope)
    {
        var send = envelope.Send;
        if (send.To is not { KindCase: Target.KindOneofCase.UserId } to
            || string.IsNullOrEmpty(send.ClientMsgId)
            || send.ClientMsgId.Length > MaxClientMsgIdLength
            || send.Body.Length > _services.DeliveryOptions.MaxBodyBytes
            || (to.UserId != UserId && !_services.KnownUsers.ContainsKey(to.UserId)))
        {
            return false;
        }

        // Best effort by contract, as for a relay through Redis: a user held by this server alone gets it from here
        // (during a takeover by another server it may reach the connection being replaced).
        var recipients = _services.LocalDelivery.ExclusiveConnectionsOf(to.UserId);
        if (recipients.Count == 0)
        {
            return false;
        }

        using var activity = StartFrameActivity(envelope);
        if (_services.Sessions.BucketOf(UserId) is { } bucket && !bucket.TryTake())
        {
            ReplyError(envelope, ErrorCode.RateLimited, "Too many messages; slow down and retry with the same client message id.");
            return true;
        }

        var frame = new Envelope
        {
            Notice = new Notice
            {
                Transient = new TransientMessage
                {
                    FromUserId = UserId, To = to, ContentType = send.ContentType, Body = send.Body, ClientMsgId = send.ClientMsgId,
                },
            },
        };
        for (var i = 0; i < recipients.Count; i++)
        {
            recipients[i].Send(frame);
        }

        Reply(envelope, new Envelope
        {
            SendAck = new SendAck
            {
                ClientMsgId = send.ClientMsgId,
                ServerTimeMs = _services.Time.GetUtcNow().ToUnixTimeMilliseconds(),
                OnlineRecipients = 1,
            },
        });
        return true;
    }

    /// <summary>An acknowledgement of a conversation known to be the user's: no membership lookup needed.</summary>
    private bool TryAcknowledgeInline(Envelope envelope)
    {
        var ack = envelope.DeliverAck;
        if (ack.Seq <= 0 || !IsKnownConversation(ack.ConversationId))
        {
            return false;
        }

        using var activity = StartFrameActivity(envelope);
        Acknowledge(ack);
        return true;
    }

    /// <summary>Whether the user belongs to the conversation, when that needs no lookup (else false: ask Redis).</summary>
    private bool IsKnownConversation(string conversationId)
    {
        var peer = ConversationIds.PeerOf(conversationId, UserId);
        if (peer is null)
        {
            return false;
        }

        if (peer.KindCase == Target.KindOneofCase.UserId)
        {
            return true;
        }

        lock (_verifiedGroups)
        {
            return _verifiedGroups.Contains(peer.GroupId);
        }
    }

    private void Acknowledge(DeliverAck ack)
    {
        _pending.Acknowledge(ack.ConversationId, ack.Seq);
        _services.Cursors.Enqueue(new CursorUpdate(ack.ConversationId, UserId, ack.Seq));
    }
}
