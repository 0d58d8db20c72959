using CimAspire.Delivery.Groups;
using CimAspire.Delivery.Messages;
using CimAspire.Delivery.Routes;
using CimAspire.Protocol;

namespace CimAspire.Delivery.Dispatch;

/// <summary>How far a dispatch reached: recipients that had a route, and the servers it went to.</summary>
public sealed record DispatchResult(int OnlineRecipients, int Servers);

/// <summary>
/// Where one payload goes, looked up but not sent yet: per server, the delivery for its recipients. Planning needs
/// Redis round trips; <see cref="MessageDispatcher.Execute"/> does not, so a caller can plan many payloads at once and
/// still send them in order.
/// </summary>
public sealed class DispatchPlan
{
    internal DispatchPlan(IReadOnlyList<(string ServerId, ServerDelivery Item)> sends, int onlineRecipients)
    {
        Sends = sends;
        OnlineRecipients = onlineRecipients;
    }

    public static DispatchPlan Empty { get; } = new([], 0);

    internal IReadOnlyList<(string ServerId, ServerDelivery Item)> Sends { get; }

    public int OnlineRecipients { get; }

    public int Servers => Sends.Count;
}

/// <summary>
/// Sends stored messages, notices, receipts and kicks to the servers holding their recipients: routes are looked up
/// in one batch, each target server gets the delivery on its channel (coalesced with others queued for it meanwhile,
/// see <see cref="ServerInbox.Enqueue"/>), and recipients on this server (when the host registered an
/// <see cref="ILocalDelivery"/>) are handed over without Redis. Nothing here stores: a lost notification is repaired
/// by the recipient's sync.
/// </summary>
public sealed class MessageDispatcher(RouteStore routes, GroupStore groups, ServerInbox inbox, ILocalDelivery? local = null)
{
    /// <summary>Groups larger than this (plus the reader) get no receipts: the fan-out of every ack would cost more than it tells.</summary>
    public const int MaxGroupReceiptRecipients = 100;

    /// <summary>Delivers a stored message to the other side of its conversation (every member but the sender for a group).</summary>
    public async Task<DispatchResult> DispatchMessageAsync(ChatMessage message, CancellationToken cancellationToken = default)
        => await ExecuteAsync(await PlanMessageAsync(message, cancellationToken), cancellationToken);

    /// <summary>Relays a transient notice (typing, a transient message) to online recipients; nothing is stored.</summary>
    public async Task<DispatchResult> DispatchNoticeAsync(long fromUserId, Target to, Notice notice, CancellationToken cancellationToken = default)
        => await ExecuteAsync(await PlanNoticeAsync(fromUserId, to, notice, cancellationToken), cancellationToken);

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

    /// <summary>
    /// <see cref="DispatchCursorReceiptAsync"/> for many cursor moves at once: the members of each group conversation
    /// are read once for all its moves, and every receipt goes out together.
    /// </summary>
    public async Task DispatchCursorReceiptsAsync(IReadOnlyList<CursorUpdate> updates, Receipt.Types.Kind kind, CancellationToken cancellationToken = default)
    {
        var sends = new List<Task>(updates.Count);
        foreach (var conversation in updates.GroupBy(u => u.ConversationId, StringComparer.Ordinal))
        {
            IReadOnlyList<long>? members = null;
            foreach (var update in conversation)
            {
                var receipt = new Receipt { ConversationId = update.ConversationId, UserId = update.UserId, Kind = kind, Seq = update.Seq };
                switch (ConversationIds.PeerOf(update.ConversationId, update.UserId))
                {
                    case { KindCase: Target.KindOneofCase.UserId } peer when peer.UserId != update.UserId:
                        sends.Add(DispatchReceiptAsync(peer.UserId, receipt, cancellationToken));
                        break;
                    case { KindCase: Target.KindOneofCase.GroupId } group when group.GroupId != ConversationIds.EveryoneGroupId:
                        members ??= await groups.GetMembersAsync(group.GroupId, cancellationToken);
                        if (members.Count <= MaxGroupReceiptRecipients + 1)
                        {
                            var others = members.Where(member => member != update.UserId).ToList();
                            sends.Add(DispatchToUsersAsync(others, new ServerDelivery { Receipt = receipt }, cancellationToken));
                        }

                        break;
                }
            }
        }

        await Task.WhenAll(sends);
    }

    /// <summary>Delivers one payload to the given users wherever they are online.</summary>
    public async Task<DispatchResult> DispatchToUsersAsync(IReadOnlyCollection<long> userIds, ServerDelivery template, CancellationToken cancellationToken = default)
        => await ExecuteAsync(await PlanUsersAsync(userIds, template, cancellationToken), cancellationToken);

    /// <summary>Looks up where a stored message goes (see <see cref="Execute"/>).</summary>
    public Task<DispatchPlan> PlanMessageAsync(ChatMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        return PlanTargetAsync(message.SenderId, message.To, new ServerDelivery { Message = message }, cancellationToken);
    }

    /// <summary>
    /// Where a stored one-to-one message goes, given its recipient's routes as looked up after the store (see
    /// <see cref="RouteStore.LookupRouteBehind"/>); no Redis round trip.
    /// </summary>
    public static DispatchPlan PlanMessage(ChatMessage message, IReadOnlyList<RouteEntry> recipientRoutes)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(recipientRoutes);
        if (message.To.KindCase != Target.KindOneofCase.UserId)
        {
            throw new ArgumentException("Only a one-to-one message has a single recipient.", nameof(message));
        }

        var recipient = message.To.UserId;
        switch (recipientRoutes.Count)
        {
            case 0:
                return DispatchPlan.Empty;
            case 1:
                // The common case: one server holds the recipient, and the delivery is built once, without a copy.
                return new DispatchPlan([(recipientRoutes[0].ServerId, new ServerDelivery { Message = message, RecipientIds = { recipient } })], 1);
            default:
                var found = new Dictionary<long, IReadOnlyList<RouteEntry>>(1) { [recipient] = recipientRoutes };
                return BuildPlan(found, 1, new ServerDelivery { Message = message });
        }
    }

    /// <summary>Looks up where a transient notice goes (see <see cref="Execute"/>).</summary>
    public Task<DispatchPlan> PlanNoticeAsync(long fromUserId, Target to, Notice notice, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(notice);
        if (to.KindCase == Target.KindOneofCase.UserId && local is not null && local.HoldsExclusively(to.UserId))
        {
            // Best effort by contract: the recipient is here, so Redis is not asked. (During a takeover by another
            // server the notice may reach the connection being replaced: a stored message would look the route up.)
            var item = new ServerDelivery { Notice = notice, RecipientIds = { to.UserId } };
            return Task.FromResult(new DispatchPlan([(local.ServerId, item)], 1));
        }

        return PlanTargetAsync(fromUserId, to, new ServerDelivery { Notice = notice }, cancellationToken, senderMustBeMember: true);
    }

    /// <summary>
    /// Sends a plan: local recipients get it now, other servers' deliveries are queued on their channels, in the order
    /// of the calls. The task completes when Redis accepted them (a failure there is not retried: sync repairs it).
    /// </summary>
    public Task Execute(DispatchPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        Task? pending = null;
        List<Task>? more = null;
        foreach (var (serverId, item) in plan.Sends)
        {
            var send = Send(serverId, item);
            if (send.IsCompletedSuccessfully)
            {
                continue;
            }

            if (pending is null)
            {
                pending = send;
            }
            else
            {
                (more ??= [pending]).Add(send);
            }
        }

        return more is not null ? Task.WhenAll(more) : pending ?? Task.CompletedTask;
    }

    /// <summary>Kicks users off one server (admin), e.g. after checking their route.</summary>
    public Task KickAsync(string serverId, IReadOnlyCollection<long> userIds, Kick kick, CancellationToken cancellationToken = default)
    {
        var item = new ServerDelivery { Kick = kick };
        item.RecipientIds.AddRange(userIds);
        return Send(serverId, item).WaitAsync(cancellationToken);
    }

    /// <summary>Kicks every user off one server (drain).</summary>
    public Task KickAllAsync(string serverId, Kick kick, CancellationToken cancellationToken = default)
        => Send(serverId, new ServerDelivery { Kick = kick, AllUsers = true }).WaitAsync(cancellationToken);

    private async Task<DispatchResult> ExecuteAsync(DispatchPlan plan, CancellationToken cancellationToken)
    {
        await Execute(plan).WaitAsync(cancellationToken);
        return new DispatchResult(plan.OnlineRecipients, plan.Servers);
    }

    private async Task<DispatchPlan> PlanUsersAsync(IReadOnlyCollection<long> userIds, ServerDelivery template, CancellationToken cancellationToken)
    {
        if (userIds.Count == 0)
        {
            return DispatchPlan.Empty;
        }

        var found = await routes.LookupRoutesAsync(userIds, cancellationToken);
        return BuildPlan(found, userIds.Count, template);
    }

    private static DispatchPlan BuildPlan(IReadOnlyDictionary<long, IReadOnlyList<RouteEntry>> found, int requested, ServerDelivery template)
    {
        if (found.Count == 1 && requested == 1)
        {
            // The common case, one recipient: no grouping, and no copy when one server holds them.
            var (userId, entries) = found.First();
            if (entries.Count == 1)
            {
                var item = template.Clone();
                item.RecipientIds.Clear();
                item.RecipientIds.Add(userId);
                return new DispatchPlan([(entries[0].ServerId, item)], 1);
            }
        }

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

        var sends = new List<(string, ServerDelivery)>(byServer.Count);
        foreach (var (serverId, recipients) in byServer)
        {
            var item = template.Clone();
            item.RecipientIds.Clear();
            item.RecipientIds.AddRange(recipients);
            sends.Add((serverId, item));
        }

        return new DispatchPlan(sends, found.Count);
    }

    // A notice (typing, transient message) to a group reaches nobody when its sender is not in the member list read for
    // the fan-out: one who left cannot keep talking to it. (A stored message was checked when it was stored.)
    private async Task<DispatchPlan> PlanTargetAsync(
        long senderId, Target to, ServerDelivery item, CancellationToken cancellationToken, bool senderMustBeMember = false)
    {
        switch (to.KindCase)
        {
            case Target.KindOneofCase.UserId:
                return await PlanUsersAsync([to.UserId], item, cancellationToken);
            case Target.KindOneofCase.GroupId when to.GroupId == ConversationIds.EveryoneGroupId:
                return await PlanBroadcastAsync(senderId, item, cancellationToken);
            case Target.KindOneofCase.GroupId:
                var members = await groups.GetMembersAsync(to.GroupId, cancellationToken);
                if (senderMustBeMember && !members.Contains(senderId))
                {
                    return new DispatchPlan([], 0);
                }

                return await PlanUsersAsync(members.Where(m => m != senderId).ToList(), item, cancellationToken);
            default:
                throw new ArgumentException("The target names neither a user nor a group.", nameof(to));
        }
    }

    // The everyone room: one all-users delivery per live server (the servers that report their load).
    private async Task<DispatchPlan> PlanBroadcastAsync(long senderId, ServerDelivery item, CancellationToken cancellationToken)
    {
        item.AllUsers = true;
        item.ExcludeUserIds.Add(senderId);
        var loads = routes.GetLoadsAsync(cancellationToken);
        var online = routes.GetOnlineCountAsync(cancellationToken);
        var servers = (await loads).Keys.ToList();
        if (local is not null && !servers.Contains(local.ServerId, StringComparer.Ordinal))
        {
            servers.Add(local.ServerId);
        }

        return new DispatchPlan([.. servers.Select(s => (s, item))], (int)Math.Max(0, await online - 1));
    }

    private Task Send(string serverId, ServerDelivery item)
    {
        if (local is not null && string.Equals(serverId, local.ServerId, StringComparison.Ordinal))
        {
            local.Deliver(item);
            return Task.CompletedTask;
        }

        return inbox.Enqueue(serverId, item);
    }
}
