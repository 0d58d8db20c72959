using CimAspire.Delivery.Groups;
using CimAspire.Delivery.Routes;
using CimAspire.Protocol;

namespace CimAspire.Delivery.Dispatch;

/// <summary>How far a dispatch reached: recipients that had a route, and the servers it went to.</summary>
public sealed record DispatchResult(int OnlineRecipients, int Servers);

/// <summary>
/// Sends stored messages, notices, receipts and kicks to the servers holding their recipients: routes are looked up
/// in one batch, each target server gets one <see cref="ServerBatch"/> on its channel, and recipients on this server
/// (when the host registered an <see cref="ILocalDelivery"/>) are handed over without Redis. Nothing here stores:
/// a lost notification is repaired by the recipient's sync.
/// </summary>
public sealed class MessageDispatcher(RouteStore routes, GroupStore groups, ServerInbox inbox, ILocalDelivery? local = null)
{
    /// <summary>Groups larger than this (plus the reader) get no receipts: the fan-out of every ack would cost more than it tells.</summary>
    public const int MaxGroupReceiptRecipients = 100;

    /// <summary>Delivers a stored message to the other side of its conversation (every member but the sender for a group).</summary>
    public async Task<DispatchResult> DispatchMessageAsync(ChatMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var item = new ServerDelivery { Message = message };
        return await DispatchToTargetAsync(message.SenderId, message.To, item, cancellationToken);
    }

    /// <summary>Relays a transient notice (typing, a transient message) to online recipients; nothing is stored.</summary>
    public Task<DispatchResult> DispatchNoticeAsync(long fromUserId, Target to, Notice notice, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(notice);
        return DispatchToTargetAsync(fromUserId, to, new ServerDelivery { Notice = notice }, cancellationToken);
    }

    /// <summary>Tells a user (on whichever servers hold them) that another member received or read a conversation.</summary>
    public Task<DispatchResult> DispatchReceiptAsync(long toUserId, Receipt receipt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        return DispatchToUsersAsync([toUserId], new ServerDelivery { Receipt = receipt }, cancellationToken);
    }

    /// <summary>
    /// Tells the other side of a conversation that <paramref name="userId"/> received or read it up to
    /// <paramref name="seq"/>: the peer of a one-to-one conversation, every other member of a group of at most
    /// <see cref="MaxGroupReceiptRecipients"/> members. The everyone room has no receipts: every ack would reach everyone.
    /// </summary>
    public async Task<DispatchResult> DispatchCursorReceiptAsync(
        string conversationId, long userId, Receipt.Types.Kind kind, long seq, CancellationToken cancellationToken = default)
    {
        var receipt = new Receipt { ConversationId = conversationId, UserId = userId, Kind = kind, Seq = seq };
        switch (ConversationIds.PeerOf(conversationId, userId))
        {
            case { KindCase: Target.KindOneofCase.UserId } peer when peer.UserId != userId:
                return await DispatchReceiptAsync(peer.UserId, receipt, cancellationToken);
            case { KindCase: Target.KindOneofCase.GroupId } group when group.GroupId != ConversationIds.EveryoneGroupId:
                var members = await groups.GetMembersAsync(group.GroupId, cancellationToken);
                if (members.Count > MaxGroupReceiptRecipients + 1)
                {
                    return new DispatchResult(0, 0);
                }

                var others = members.Where(member => member != userId).ToList();
                return await DispatchToUsersAsync(others, new ServerDelivery { Receipt = receipt }, cancellationToken);
            default:
                return new DispatchResult(0, 0);
        }
    }

    /// <summary>Delivers one payload to the given users wherever they are online.</summary>
    public async Task<DispatchResult> DispatchToUsersAsync(IReadOnlyCollection<long> userIds, ServerDelivery template, CancellationToken cancellationToken = default)
    {
        if (userIds.Count == 0)
        {
            return new DispatchResult(0, 0);
        }

        var found = await routes.GetRoutesAsync(userIds, cancellationToken);
        var byServer = new Dictionary<string, List<long>>(StringComparer.Ordinal);
        foreach (var (userId, entries) in found)
        {
            foreach (var entry in entries)
            {
                if (!byServer.TryGetValue(entry.ServerId, out var list))
                {
                    byServer[entry.ServerId] = list = [];
                }

                list.Add(userId);
            }
        }

        var sends = new List<Task>(byServer.Count);
        foreach (var (serverId, recipients) in byServer)
        {
            var item = template.Clone();
            item.RecipientIds.Clear();
            item.RecipientIds.AddRange(recipients);
            sends.Add(SendAsync(serverId, item, cancellationToken));
        }

        await Task.WhenAll(sends);
        return new DispatchResult(found.Count, byServer.Count);
    }

    /// <summary>Kicks users off one server (admin), e.g. after checking their route.</summary>
    public Task KickAsync(string serverId, IReadOnlyCollection<long> userIds, Kick kick, CancellationToken cancellationToken = default)
    {
        var item = new ServerDelivery { Kick = kick };
        item.RecipientIds.AddRange(userIds);
        return SendAsync(serverId, item, cancellationToken);
    }

    /// <summary>Kicks every user off one server (drain).</summary>
    public Task KickAllAsync(string serverId, Kick kick, CancellationToken cancellationToken = default)
        => SendAsync(serverId, new ServerDelivery { Kick = kick, AllUsers = true }, cancellationToken);

    private async Task<DispatchResult> DispatchToTargetAsync(long senderId, Target to, ServerDelivery item, CancellationToken cancellationToken)
    {
        switch (to.KindCase)
        {
            case Target.KindOneofCase.UserId:
                return await DispatchToUsersAsync([to.UserId], item, cancellationToken);
            case Target.KindOneofCase.GroupId when to.GroupId == ConversationIds.EveryoneGroupId:
                return await BroadcastAsync(senderId, item, cancellationToken);
            case Target.KindOneofCase.GroupId:
                var members = await groups.GetMembersAsync(to.GroupId, cancellationToken);
                return await DispatchToUsersAsync(members.Where(m => m != senderId).ToList(), item, cancellationToken);
            default:
                throw new ArgumentException("The target names neither a user nor a group.", nameof(to));
        }
    }

    // The everyone room: one all-users delivery per live server (the servers that report their load).
    private async Task<DispatchResult> BroadcastAsync(long senderId, ServerDelivery item, CancellationToken cancellationToken)
    {
        item.AllUsers = true;
        item.ExcludeUserIds.Add(senderId);
        var servers = (await routes.GetLoadsAsync(cancellationToken)).Keys.ToList();
        if (local is not null && !servers.Contains(local.ServerId, StringComparer.Ordinal))
        {
            servers.Add(local.ServerId);
        }

        await Task.WhenAll(servers.Select(s => SendAsync(s, item, cancellationToken)));
        var online = await routes.GetOnlineCountAsync(cancellationToken);
        return new DispatchResult((int)Math.Max(0, online - 1), servers.Count);
    }

    private Task SendAsync(string serverId, ServerDelivery item, CancellationToken cancellationToken)
    {
        if (local is not null && string.Equals(serverId, local.ServerId, StringComparison.Ordinal))
        {
            local.Deliver(item);
            return Task.CompletedTask;
        }

        var batch = new ServerBatch();
        batch.Items.Add(item);
        return inbox.PublishAsync(serverId, batch, cancellationToken);
    }
}
