using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using CimAspire.Protocol;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace CimAspire.Delivery.Messages;

/// <summary>What a sender asks to store; the store assigns the sequence, the server message id and the time.</summary>
public sealed record AppendRequest(
    long SenderId,
    string SenderName,
    Target To,
    string ClientMsgId,
    ContentType ContentType,
    ByteString Body,
    string? TraceParent = null);

/// <summary>The stored message (the original one when <see cref="Duplicate"/> is true).</summary>
public sealed record AppendResult(ChatMessage Message, bool Duplicate);

/// <summary>The sender of a group message is not (or no longer) a member of the group; nothing was stored.</summary>
public sealed class NotAGroupMemberException(long userId, long groupId)
    : InvalidOperationException($"User {userId} is not a member of group {groupId}.")
{
    public long UserId { get; } = userId;

    public long GroupId { get; } = groupId;
}

/// <summary>Messages oldest first; <see cref="HasMore"/> says a further page exists in the direction read.</summary>
public sealed record MessagePage(string ConversationId, IReadOnlyList<ChatMessage> Messages, bool HasMore);

/// <summary>One conversation of a user: sequences, cursors and the last message.</summary>
public sealed record ConversationSummary(
    string ConversationId,
    Target Peer,
    long LastSeq,
    long DeliveredSeq,
    long ReadSeq,
    long Unread,
    ChatMessage? LastMessage);

/// <summary>A cursor move: <paramref name="Seq"/> is capped at the conversation's last sequence.</summary>
public sealed record CursorUpdate(string ConversationId, long UserId, long Seq);

/// <summary>
/// The message store of the delivery core on Redis. A conversation's keys share one hash tag, so each append is one
/// atomic Lua script on one slot: idempotency check, sequence, store, sender cursors and retention trimming.
/// </summary>
public sealed class MessageStore(IConnectionMultiplexer redis, IOptions<DeliveryOptions> options, TimeProvider time)
{
    // KEYS: seq, msgs, ids, delivered, read, and for a group (not the everyone room) its member set, which shares the
    // conversation's hash tag. ARGV: max length, min time ms, then per message its idempotency key, member and sender
    // id. Appends a batch of messages of one conversation in the order given; returns per message {0, seq, ''} (stored),
    // {1, seq, member} (a retry: the original), {2, 0, error} (this message failed; the others are unaffected) or
    // {3, 0, ''} (the sender is not a member of the group: checked here, atomically with the store, so a member who
    // left can never add to it, whatever a server cached). The sender's cursors are set without reading them: cursors are capped at the last sequence, so
    // the new one is always higher. Trimming runs once per batch; the id index is trimmed only when messages were
    // trimmed, and the age check reads the oldest member first, so a plain append is a handful of O(log n) commands.
    private const string AppendScript = """
        local out = {}
        local function append(key, member, sender)
          local existing = redis.call('ZSCORE', KEYS[3], key)
          if existing then
            local found = redis.call('ZRANGEBYSCORE', KEYS[2], existing, existing)
            return {1, tonumber(existing), found[1] or ''}
          end
          if KEYS[6] and redis.call('SISMEMBER', KEYS[6], sender) == 0 then
            return {3, 0, ''}
          end
          local seq = redis.call('INCR', KEYS[1])
          redis.call('ZADD', KEYS[2], seq, member)
          redis.call('ZADD', KEYS[3], seq, key)
          redis.call('HSET', KEYS[4], sender, seq)
          redis.call('HSET', KEYS[5], sender, seq)
          return {0, seq, ''}
        end
        for i = 3, #ARGV, 3 do
          local ok, result = pcall(append, ARGV[i], ARGV[i + 1], ARGV[i + 2])
          if ok then
            out[#out + 1] = result
          else
            out[#out + 1] = {2, 0, tostring(result)}
          end
        end
        local function trim()
          local trimmed = false
          local maxLen = tonumber(ARGV[1])
          if maxLen > 0 then
            local card = redis.call('ZCARD', KEYS[2])
            if card > maxLen then
              redis.call('ZREMRANGEBYRANK', KEYS[2], 0, card - maxLen - 1)
              trimmed = true
            end
          end
          local minTime = tonumber(ARGV[2])
          if minTime > 0 then
            local function expired(m)
              local sep = string.find(m, ':', 1, true)
              return sep and tonumber(string.sub(m, 1, sep - 1)) < minTime
            end
            local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)
            if oldest[1] and expired(oldest[1]) then
              local batch = redis.call('ZRANGE', KEYS[2], 0, 63)
              local n = 0
              for i, m in ipairs(batch) do
                if expired(m) then n = i else break end
              end
              redis.call('ZREMRANGEBYRANK', KEYS[2], 0, n - 1)
              trimmed = true
            end
          end
          if trimmed then
            local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
            if first[2] then redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. first[2]) end
          end
        end
        -- Retention is housekeeping: the messages above are stored whatever happens here.
        pcall(trim)
        return out
        """;

    // KEYS: seq, cursor hash. ARGV: pairs of user id, seq. Raises each cursor (never lowers it), capped at the last
    // sequence; returns per pair the new value, or minus the unchanged one. One call per conversation, however many
    // members acknowledged it (a group message is acknowledged by each member).
    private const string RaiseCursorScript = """
        local last = tonumber(redis.call('GET', KEYS[1]) or '0')
        local out = {}
        for i = 1, #ARGV, 2 do
          local want = tonumber(ARGV[i + 1])
          if want > last then want = last end
          local cur = tonumber(redis.call('HGET', KEYS[2], ARGV[i]) or '0')
          if want > cur then
            redis.call('HSET', KEYS[2], ARGV[i], want)
            out[#out + 1] = want
          else
            out[#out + 1] = -cur
          end
        end
        return out
        """;

    private const int MaxIndexCacheEntries = 50_000;

    // A page's first read from Redis takes at most this many messages; further reads are sized by the byte budget left.
    private const int FirstReadChunk = 128;

    private readonly DeliveryOptions _options = options.Value;

    // (user, conversation) -> when this process last wrote the user's index entry (Unix ms), and that write.
    private readonly ConcurrentDictionary<(long UserId, string ConversationId), (long At, Task Write)> _indexWritten = new();

    // At most this many appends go out in one script call; more waiting for the conversation go out in the next ones.
    private const int MaxAppendBatch = 128;

    private static readonly byte[] AppendScriptHash = SHA1.HashData(Encoding.UTF8.GetBytes(AppendScript));

    // Per conversation with appends at Redis: the appends queued meanwhile. Removed when it runs empty.
    private readonly ConcurrentDictionary<string, AppendQueue> _appendQueues = new(StringComparer.Ordinal);

    private IDatabase Db => redis.GetDatabase();

    public int MaxPageSize => _options.MaxPageSize;

    /// <summary>
    /// Stores a message durably (the reply comes after Redis wrote it to its append-only file) or returns the original
    /// one for a retried client message id.
    /// </summary>
    public Task<AppendResult> AppendAsync(AppendRequest request, CancellationToken cancellationToken = default)
        => AppendAsync(request, afterStore: null, cancellationToken);

    /// <summary>
    /// <see cref="AppendAsync(AppendRequest, CancellationToken)"/>, and <paramref name="afterStore"/> is called once the
    /// command that stores the message was issued, on the same connection, before anything else is issued there: a
    /// command it issues on the given database reaches Redis right behind the store (so it sees everything done before
    /// the message was stored, e.g. a route claim) and shares its round trip. It is not called when the store fails
    /// before reaching Redis, and is called after the store completed when Redis had to be asked again (the script had
    /// left its cache).
    /// </summary>
    /// <remarks>
    /// Appends to one conversation are batched: while a batch of its appends is at Redis, further appends to it queue
    /// and go out together as the next batch (one script call for all of them), in the order they were asked for. A
    /// lone append goes out at once. A message that fails inside a batch fails alone.
    /// </remarks>
    public Task<AppendResult> AppendAsync(AppendRequest request, Action<IDatabaseAsync>? afterStore, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrEmpty(request.ClientMsgId);
        if (request.SenderId <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(request), "The sender id must be positive.");
        }

        var conversationId = ConversationIds.For(request.SenderId, request.To);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var message = new ChatMessage
        {
            ServerMsgId = NewServerMessageId(),
            ClientMsgId = request.ClientMsgId,
            ConversationId = conversationId,
            SenderId = request.SenderId,
            SenderName = request.SenderName,
            To = request.To.Clone(),
            ContentType = request.ContentType,
            Body = request.Body,
            ServerTimeMs = now,
            Traceparent = request.TraceParent ?? string.Empty,
        };

        var append = new PendingAppend(request, message, ToMember(message), now, afterStore);
        while (true)
        {
            var queue = _appendQueues.GetOrAdd(conversationId, static id => new AppendQueue(id));
            lock (queue)
            {
                if (queue.Retired)
                {
                    // Removed from the map while we looked it up: use (or make) the current one, so one conversation
                    // never has two queues (which could store a sender's later message before an earlier one).
                    continue;
                }

                if (queue.InFlight)
                {
                    queue.Waiting.Add(append);
                    break;
                }

                queue.InFlight = true;
            }

            _ = IssueAsync(queue, [append]);
            break;
        }

        return cancellationToken.CanBeCanceled ? append.Done.Task.WaitAsync(cancellationToken) : append.Done.Task;
    }

    /// <summary>
    /// Up to <paramref name="limit"/> messages with sequence above <paramref name="afterSeq"/>, oldest first, stopping
    /// before the page passes <see cref="DeliveryOptions.MaxPageBytes"/> (a page holds at least one message, so paging
    /// always advances).
    /// </summary>
    public Task<MessagePage> ReadAfterAsync(string conversationId, long afterSeq, int limit, CancellationToken cancellationToken = default)
        => ReadPageAsync(conversationId, afterSeq, Order.Ascending, limit, cancellationToken);

    /// <summary>
    /// Up to <paramref name="limit"/> messages with sequence below <paramref name="beforeSeq"/> (or the newest when it
    /// is 0 or less), oldest first: history paging backwards. Bounded in bytes like <see cref="ReadAfterAsync"/>: the
    /// newest messages before <paramref name="beforeSeq"/> that fit.
    /// </summary>
    public async Task<MessagePage> ReadBeforeAsync(string conversationId, long beforeSeq, int limit, CancellationToken cancellationToken = default)
    {
        var page = await ReadPageAsync(conversationId, beforeSeq > 0 ? beforeSeq : long.MaxValue, Order.Descending, limit, cancellationToken);
        return page with { Messages = page.Messages.Reverse().ToList() };
    }

    // Reads from 'from' (exclusive) in the given direction in chunks, so a page of big messages never fetches more than
    // about the byte budget from Redis. Sizes are the stored members' (the message plus a short time prefix), a little
    // more than the message takes in a frame.
    private async Task<MessagePage> ReadPageAsync(string conversationId, long from, Order order, int limit, CancellationToken cancellationToken)
    {
        limit = ClampLimit(limit);
        var key = RedisKeys.ConversationMessages(conversationId);
        var budget = (long)_options.MaxPageBytes;
        var minTime = MinRetainedTime();
        var messages = new List<ChatMessage>();
        var bytes = 0L;
        var cursor = from;
        var chunk = Math.Min(limit + 1, FirstReadChunk);
        while (true)
        {
            var entries = order == Order.Ascending
                ? await Db.SortedSetRangeByScoreWithScoresAsync(key, cursor, double.PositiveInfinity, Exclude.Start, order, 0, chunk)
                    .WaitAsync(cancellationToken)
                : await Db.SortedSetRangeByScoreWithScoresAsync(key, double.NegativeInfinity, cursor, Exclude.Stop, order, 0, chunk)
                    .WaitAsync(cancellationToken);
            foreach (var entry in entries)
            {
                var member = (byte[])entry.Element!;
                if (messages.Count == limit || (messages.Count > 0 && bytes + member.Length > budget))
                {
                    return new MessagePage(conversationId, messages, true);
                }

                cursor = (long)entry.Score;
                if (FromMember(member, cursor) is { } message && message.ServerTimeMs >= minTime)
                {
                    messages.Add(message);
                    bytes += member.Length;
                }
            }

            if (entries.Length < chunk)
            {
                return new MessagePage(conversationId, messages, false);
            }

            // The next chunk: about what the rest of the budget holds at the sizes seen so far, plus one to see past it.
            var average = Math.Max(1, bytes / Math.Max(1, messages.Count));
            var fits = (int)Math.Min(int.MaxValue, ((budget - bytes) / average) + 2);
            chunk = Math.Max(1, Math.Min(fits, limit - messages.Count + 1));
        }
    }

    /// <summary>The conversation's last sequence (0 when nothing was ever stored).</summary>
    public async Task<long> GetLastSeqAsync(string conversationId, CancellationToken cancellationToken = default)
    {
        var value = await Db.StringGetAsync(RedisKeys.ConversationSeq(conversationId)).WaitAsync(cancellationToken);
        return value.HasValue ? (long)value : 0;
    }

    /// <summary>Raises delivered cursors (never lowers them). Returns the updates that moved a cursor, with the new value.</summary>
    public Task<IReadOnlyList<CursorUpdate>> AdvanceDeliveredAsync(IEnumerable<CursorUpdate> updates, CancellationToken cancellationToken = default)
        => RaiseCursorsAsync(updates, RedisKeys.ConversationDelivered, cancellationToken);

    /// <summary>Raises read cursors (and the delivered cursor with them: what was read was received).</summary>
    public async Task<IReadOnlyList<CursorUpdate>> AdvanceReadAsync(IEnumerable<CursorUpdate> updates, CancellationToken cancellationToken = default)
    {
        var list = updates.ToList();
        await RaiseCursorsAsync(list, RedisKeys.ConversationDelivered, cancellationToken);
        return await RaiseCursorsAsync(list, RedisKeys.ConversationRead, cancellationToken);
    }

    /// <summary>The user's delivered and read cursors in one conversation.</summary>
    public async Task<(long Delivered, long Read)> GetCursorsAsync(string conversationId, long userId, CancellationToken cancellationToken = default)
    {
        var db = Db;
        var delivered = db.HashGetAsync(RedisKeys.ConversationDelivered(conversationId), userId);
        var read = db.HashGetAsync(RedisKeys.ConversationRead(conversationId), userId);
        await Task.WhenAll(delivered, read).WaitAsync(cancellationToken);
        return (AsLong(await delivered), AsLong(await read));
    }

    /// <summary>
    /// The user's conversations: one-to-one conversations (newest activity first, at most <paramref name="limit"/>),
    /// then the user's groups and the everyone room.
    /// </summary>
    public async Task<IReadOnlyList<ConversationSummary>> GetConversationsAsync(long userId, int limit = 200, CancellationToken cancellationToken = default)
    {
        var db = Db;
        var direct = db.SortedSetRangeByRankAsync(RedisKeys.UserConversations(userId), 0, Math.Max(1, limit) - 1, Order.Descending);
        var groups = db.SetMembersAsync(RedisKeys.UserGroups(userId));
        await Task.WhenAll(direct, groups).WaitAsync(cancellationToken);

        var ids = new List<string>();
        ids.AddRange((await direct).Select(v => v.ToString()));
        ids.Add(ConversationIds.ForGroup(ConversationIds.EveryoneGroupId));
        ids.AddRange((await groups).Select(v => ConversationIds.ForGroup((long)v)).Order(StringComparer.Ordinal));
        ids = ids.Distinct(StringComparer.Ordinal).ToList();

        var summaries = ids.Select(id => SummarizeAsync(db, id, userId)).ToList();
        await Task.WhenAll(summaries).WaitAsync(cancellationToken);
        return summaries.Select(t => t.Result).Where(s => s is not null).Select(s => s!).ToList();
    }

    /// <summary>One conversation as the user sees it, or null when the user is not part of a one-to-one conversation id.</summary>
    public async Task<ConversationSummary?> GetConversationAsync(string conversationId, long userId, CancellationToken cancellationToken = default)
        => await SummarizeAsync(Db, conversationId, userId).WaitAsync(cancellationToken);

    private async Task<ConversationSummary?> SummarizeAsync(IDatabase db, string conversationId, long userId)
    {
        var peer = ConversationIds.PeerOf(conversationId, userId);
        if (peer is null)
        {
            return null;
        }

        var seq = db.StringGetAsync(RedisKeys.ConversationSeq(conversationId));
        var delivered = db.HashGetAsync(RedisKeys.ConversationDelivered(conversationId), userId);
        var read = db.HashGetAsync(RedisKeys.ConversationRead(conversationId), userId);
        var last = db.SortedSetRangeByRankWithScoresAsync(RedisKeys.ConversationMessages(conversationId), 0, 0, Order.Descending);
        await Task.WhenAll(seq, delivered, read, last);
        var lastSeq = AsLong(await seq);
        var readSeq = AsLong(await read);
        var lastMessage = Decode(await last).FirstOrDefault();
        return new ConversationSummary(
            conversationId, peer, lastSeq, AsLong(await delivered), readSeq, Math.Max(0, lastSeq - readSeq), lastMessage);
    }

    // Runs the batches of one conversation one after the other: this batch, then whatever queued meanwhile. Starts
    // synchronously, so the first batch is on the wire when AppendAsync returns.
    private async Task IssueAsync(AppendQueue queue, List<PendingAppend> batch)
    {
        while (true)
        {
            await StoreBatchAsync(queue.ConversationId, batch);
            lock (queue)
            {
                if (queue.Waiting.Count == 0)
                {
                    queue.InFlight = false;
                    queue.Retired = true;
                    _appendQueues.TryRemove(KeyValuePair.Create(queue.ConversationId, queue));
                    return;
                }

                var take = Math.Min(queue.Waiting.Count, MaxAppendBatch);
                batch = queue.Waiting.GetRange(0, take);
                queue.Waiting.RemoveRange(0, take);
            }
        }
    }

    // Issues the batch (index writes, then the script, then the callers' follow-ups, one after the other from this
    // thread, so Redis runs them in that order) and settles every append of it. Never throws.
    private async Task StoreBatchAsync(string conversationId, List<PendingAppend> batch)
    {
        var db = Db;
        RedisKey[] keys;
        RedisValue[] args;
        Task<RedisResult> script;
        try
        {
            foreach (var append in batch)
            {
                if (append.Request.To.KindCase == Target.KindOneofCase.UserId)
                {
                    // The index only says which conversations exist; writing it first means a crash can leave an entry
                    // without messages (harmless), never messages without an entry. Appends within the refresh interval
                    // share one write (still issued before their scripts) instead of rewriting the entry each time.
                    append.SenderIndex = WriteIndexAsync(db, append.Request.SenderId, conversationId, append.Now);
                    if (append.Request.To.UserId != append.Request.SenderId)
                    {
                        append.RecipientIndex = WriteIndexAsync(db, append.Request.To.UserId, conversationId, append.Now);
                    }
                }
            }

            keys =
            [
                RedisKeys.ConversationSeq(conversationId), RedisKeys.ConversationMessages(conversationId),
                RedisKeys.ConversationClientIds(conversationId), RedisKeys.ConversationDelivered(conversationId),
                RedisKeys.ConversationRead(conversationId),
            ];
            if (batch[0].Request.To is { KindCase: Target.KindOneofCase.GroupId, GroupId: var groupId and not ConversationIds.EveryoneGroupId })
            {
                keys = [.. keys, RedisKeys.GroupMembers(groupId)];
            }

            args = new RedisValue[2 + (3 * batch.Count)];
            args[0] = _options.RetentionMaxMessages;
            args[1] = _options.RetentionMaxAge is { } age ? batch[^1].Now - (long)age.TotalMilliseconds : 0;
            for (var i = 0; i < batch.Count; i++)
            {
                var request = batch[i].Request;
                args[2 + (3 * i)] = $"{request.SenderId}:{request.ClientMsgId}";
                args[3 + (3 * i)] = batch[i].Member;
                args[4 + (3 * i)] = request.SenderId;
            }

            // By hash: the client library would re-send a script Redis no longer has, and then a follow-up issued
            // behind it would run before it. Here that case is seen and handled below.
            script = db.ScriptEvaluateAsync(AppendScriptHash, keys, args);
        }
        catch (Exception ex)
        {
            FailAll(batch, ex);
            return;
        }

        CallAfterStore(batch, db);
        RedisResult reply;
        try
        {
            reply = await script.ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            try
            {
                reply = await db.ScriptEvaluateAsync(AppendScript, keys, args).ConfigureAwait(false);
            }
            catch (Exception retry)
            {
                FailAll(batch, retry);
                return;
            }

            CallAfterStore(batch, db);
        }
        catch (Exception ex)
        {
            FailAll(batch, ex);
            return;
        }

        var results = (RedisResult[])reply!;
        for (var i = 0; i < batch.Count; i++)
        {
            var append = batch[i];
            try
            {
                // Issued before the script, so done by now; a failed index write fails its append.
                if (append.SenderIndex is { } senderIndex)
                {
                    await senderIndex.ConfigureAwait(false);
                }

                if (append.RecipientIndex is { } recipientIndex)
                {
                    await recipientIndex.ConfigureAwait(false);
                }

                append.Done.TrySetResult(ToResult(append.Message, (RedisResult[])results[i]!));
            }
            catch (Exception ex)
            {
                append.Done.TrySetException(ex);
            }
        }
    }

    private static AppendResult ToResult(ChatMessage message, RedisResult[] reply)
    {
        var code = (long)reply[0];
        var seq = (long)reply[1];
        switch (code)
        {
            case 0:
                message.Seq = seq;
                return new AppendResult(message, false);
            case 1:
                var stored = FromMember((byte[])reply[2]!, seq);
                message.Seq = seq;
                return new AppendResult(stored ?? message, true);
            case 3:
                throw new NotAGroupMemberException(message.SenderId, message.To.GroupId);
            default:
                throw new RedisServerException(RedisErrorKind.UnknownError, CommandFlags.None, $"Storing message {message.ClientMsgId} failed: {(string?)reply[2]}");
        }
    }

    private static void CallAfterStore(List<PendingAppend> batch, IDatabaseAsync db)
    {
        foreach (var append in batch)
        {
            try
            {
                append.AfterStore?.Invoke(db);
            }
            catch (Exception ex)
            {
                append.Done.TrySetException(ex);
            }
        }
    }

    private static void FailAll(List<PendingAppend> batch, Exception exception)
    {
        foreach (var append in batch)
        {
            append.Done.TrySetException(exception);
        }
    }

    private Task WriteIndexAsync(IDatabase db, long userId, string conversationId, long now)
    {
        var refresh = (long)_options.ConversationIndexRefresh.TotalMilliseconds;
        var key = (userId, conversationId);
        if (refresh > 0 && _indexWritten.TryGetValue(key, out var written) && now - written.At < refresh && now >= written.At
            && !written.Write.IsFaulted && !written.Write.IsCanceled)
        {
            // Issued before this append's script on the same connection, so Redis applies it first; awaiting it makes
            // this append fail too if it did.
            return written.Write;
        }

        var write = db.SortedSetAddAsync(RedisKeys.UserConversations(userId), conversationId, now);
        if (refresh > 0)
        {
            if (_indexWritten.Count >= MaxIndexCacheEntries)
            {
                _indexWritten.Clear();
            }

            _indexWritten[key] = (now, write);
        }

        return write;
    }

    private int ClampLimit(int limit) => limit <= 0 ? Math.Min(100, _options.MaxPageSize) : Math.Min(limit, _options.MaxPageSize);

    private async Task<IReadOnlyList<CursorUpdate>> RaiseCursorsAsync(
        IEnumerable<CursorUpdate> updates, Func<string, string> cursorKey, CancellationToken cancellationToken)
    {
        var db = Db;
        var pending = updates
            .Where(u => u.Seq > 0 && ConversationIds.TryParse(u.ConversationId, out _, out _, out _))
            .GroupBy(u => u.ConversationId, StringComparer.Ordinal)
            .Select(g =>
            {
                var group = g.ToList();
                var args = new RedisValue[group.Count * 2];
                for (var i = 0; i < group.Count; i++)
                {
                    args[2 * i] = group[i].UserId;
                    args[(2 * i) + 1] = group[i].Seq;
                }

                return (Updates: group, Task: db.ScriptEvaluateAsync(
                    RaiseCursorScript, [RedisKeys.ConversationSeq(g.Key), cursorKey(g.Key)], args));
            })
            .ToList();
        await Task.WhenAll(pending.Select(p => p.Task)).WaitAsync(cancellationToken);
        var moved = new List<CursorUpdate>();
        foreach (var (group, task) in pending)
        {
            var values = (RedisResult[])(await task)!;
            for (var i = 0; i < group.Count; i++)
            {
                var value = (long)values[i];
                if (value > 0)
                {
                    moved.Add(group[i] with { Seq = value });
                }
            }
        }

        return moved;
    }

    private long MinRetainedTime() => _options.RetentionMaxAge is { } age
        ? time.GetUtcNow().ToUnixTimeMilliseconds() - (long)age.TotalMilliseconds
        : long.MinValue;

    private List<ChatMessage> Decode(IEnumerable<SortedSetEntry> entries)
    {
        var minTime = MinRetainedTime();
        var messages = new List<ChatMessage>();
        foreach (var entry in entries)
        {
            var message = FromMember((byte[])entry.Element!, (long)entry.Score);
            if (message is not null && message.ServerTimeMs >= minTime)
            {
                messages.Add(message);
            }
        }

        return messages;
    }

    private static long AsLong(RedisValue value) => value.HasValue && value.TryParse(out long parsed) ? parsed : 0;

    // The member carries its time as a decimal prefix so the append script can trim by age without parsing protobuf;
    // the sequence is the score, so the stored protobuf does not need it.
    private static byte[] ToMember(ChatMessage message)
    {
        var prefix = Encoding.ASCII.GetBytes(message.ServerTimeMs.ToString(System.Globalization.CultureInfo.InvariantCulture) + ":");
        var size = message.CalculateSize();
        var member = new byte[prefix.Length + size];
        prefix.CopyTo(member, 0);
        message.WriteTo(member.AsSpan(prefix.Length));
        return member;
    }

    private static ChatMessage? FromMember(byte[]? member, long seq)
    {
        if (member is null)
        {
            return null;
        }

        var sep = Array.IndexOf(member, (byte)':');
        if (sep <= 0)
        {
            return null;
        }

        var message = ChatMessage.Parser.ParseFrom(member.AsSpan(sep + 1));
        message.Seq = seq;
        return message;
    }

    private static string NewServerMessageId()
    {
        Span<byte> bytes = stackalloc byte[16];
        Guid.CreateVersion7().TryWriteBytes(bytes, bigEndian: true, out _);
        return Base64Url.EncodeToString(bytes);
    }

    private sealed class PendingAppend(AppendRequest request, ChatMessage message, byte[] member, long now, Action<IDatabaseAsync>? afterStore)
    {
        public AppendRequest Request { get; } = request;

        public ChatMessage Message { get; } = message;

        public byte[] Member { get; } = member;

        public long Now { get; } = now;

        public Action<IDatabaseAsync>? AfterStore { get; } = afterStore;

        public Task? SenderIndex { get; set; }

        public Task? RecipientIndex { get; set; }

        public TaskCompletionSource<AppendResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class AppendQueue(string conversationId)
    {
        public string ConversationId { get; } = conversationId;

        public List<PendingAppend> Waiting { get; } = [];

        public bool InFlight { get; set; }

        // Removed from the map: an append that finds it must look the conversation's queue up again.
        public bool Retired { get; set; }
    }
}
