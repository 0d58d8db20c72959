using CimAspire.Protocol;
using Google.Protobuf;

namespace CimAspire.Tests.Client.Fakes;

/// <summary>
/// The state a real cluster keeps in Redis, in memory: accounts, tokens, messages with per-conversation sequences and
/// idempotency, groups and what each user acknowledged. Shared by the fake route API and the fake IM servers.
/// </summary>
public sealed class FakeCluster : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<long, (string Name, string Password)> _accounts = [];
    private readonly Dictionary<string, (long UserId, string ServerId)> _tokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<ChatMessage>> _messages = new(StringComparer.Ordinal);
    private readonly Dictionary<(long UserId, string ClientMsgId), ChatMessage> _byClientId = [];
    private readonly Dictionary<(long UserId, string ConversationId), long> _delivered = [];
    private readonly Dictionary<(long UserId, string ConversationId), long> _read = [];
    private readonly Dictionary<long, (string Name, long Owner, HashSet<long> Members)> _groups = [];
    private long _nextUserId = 100;
    private long _nextGroupId = 1;
    private long _nextToken;

    public List<FakeImServer> Servers { get; } = [];

    public FakeRouteApi? Route { get; private set; }

    public static async Task<FakeCluster> StartAsync(int servers = 1)
    {
        var cluster = new FakeCluster();
        for (var i = 0; i < servers; i++)
        {
            cluster.Servers.Add(FakeImServer.Start(cluster, $"im-{(char)('a' + i)}"));
        }

        cluster.Route = FakeRouteApi.Start(cluster);
        await Task.CompletedTask;
        return cluster;
    }

    public Uri RouteUri => Route!.BaseAddress;

    public long Register(string name, string password)
    {
        lock (_lock)
        {
            if (_accounts.Values.Any(a => a.Name == name))
            {
                return -1;
            }

            var id = _nextUserId++;
            _accounts[id] = (name, password);
            return id;
        }
    }

    public (long Id, string Name)? FindAccount(string name)
    {
        lock (_lock)
        {
            foreach (var (id, account) in _accounts)
            {
                if (account.Name == name)
                {
                    return (id, account.Name);
                }
            }

            return null;
        }
    }

    public string? NameOf(long userId)
    {
        lock (_lock)
        {
            return _accounts.TryGetValue(userId, out var a) ? a.Name : null;
        }
    }

    public IReadOnlyList<(long Id, string Name)> Accounts()
    {
        lock (_lock)
        {
            return _accounts.Select(a => (a.Key, a.Value.Name)).ToList();
        }
    }

    public long CheckPassword(string name, string password)
    {
        lock (_lock)
        {
            foreach (var (id, account) in _accounts)
            {
                if (account.Name == name && account.Password == password)
                {
                    return id;
                }
            }

            return -1;
        }
    }

    public string IssueToken(long userId, string serverId)
    {
        lock (_lock)
        {
            var token = $"tok-{userId}-{++_nextToken}";
            _tokens[token] = (userId, serverId);
            return token;
        }
    }

    public (long UserId, string ServerId)? CheckToken(string? token)
    {
        lock (_lock)
        {
            return token is not null && _tokens.TryGetValue(token, out var t) ? t : null;
        }
    }

    public void RevokeTokensOf(long userId)
    {
        lock (_lock)
        {
            foreach (var key in _tokens.Where(t => t.Value.UserId == userId).Select(t => t.Key).ToList())
            {
                _tokens.Remove(key);
            }
        }
    }

    public void RevokeToken(string token)
    {
        lock (_lock)
        {
            _tokens.Remove(token);
        }
    }

    /// <summary>Stores a message (or returns the stored one for a repeated client message id).</summary>
    public (ChatMessage Message, bool Duplicate) Store(long senderId, SendRequest request, string traceparent = "")
    {
        lock (_lock)
        {
            if (_byClientId.TryGetValue((senderId, request.ClientMsgId), out var existing))
            {
                return (existing, true);
            }

            var conversationId = ConversationIds.For(senderId, request.To);
            if (!_messages.TryGetValue(conversationId, out var list))
            {
                _messages[conversationId] = list = [];
            }

            var message = new ChatMessage
            {
                ServerMsgId = Guid.NewGuid().ToString("N"),
                ClientMsgId = request.ClientMsgId,
                ConversationId = conversationId,
                Seq = list.Count + 1,
                SenderId = senderId,
                SenderName = _accounts.TryGetValue(senderId, out var a) ? a.Name : "?",
                To = request.To.Clone(),
                ContentType = request.ContentType,
                Body = request.Body,
                ServerTimeMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                Traceparent = traceparent,
            };
            list.Add(message);
            _byClientId[(senderId, request.ClientMsgId)] = message;
            return (message, false);
        }
    }

    public ChatMessage StoreText(long senderId, Target to, string text) =>
        Store(senderId, new SendRequest { ClientMsgId = Guid.NewGuid().ToString("N"), To = to, Body = ByteString.CopyFromUtf8(text) }).Message;

    public IReadOnlyList<ChatMessage> MessagesOf(string conversationId)
    {
        lock (_lock)
        {
            return _messages.TryGetValue(conversationId, out var list) ? list.ToList() : [];
        }
    }

    public IReadOnlyList<long> Recipients(ChatMessage message)
    {
        lock (_lock)
        {
            if (message.To.KindCase == Target.KindOneofCase.UserId)
            {
                return message.To.UserId == message.SenderId ? [message.SenderId] : [message.SenderId, message.To.UserId];
            }

            if (message.To.GroupId == ConversationIds.EveryoneGroupId)
            {
                return _accounts.Keys.ToList();
            }

            return _groups.TryGetValue(message.To.GroupId, out var g) ? g.Members.ToList() : [];
        }
    }

    public bool IsMember(long userId, long groupId)
    {
        lock (_lock)
        {
            return groupId == ConversationIds.EveryoneGroupId || (_groups.TryGetValue(groupId, out var g) && g.Members.Contains(userId));
        }
    }

    public void Acknowledge(long userId, string conversationId, long seq)
    {
        lock (_lock)
        {
            _delivered[(userId, conversationId)] = Math.Max(seq, _delivered.GetValueOrDefault((userId, conversationId)));
        }
    }

    public long DeliveredSeq(long userId, string conversationId)
    {
        lock (_lock)
        {
            return _delivered.GetValueOrDefault((userId, conversationId));
        }
    }

    public void MarkRead(long userId, string conversationId, long seq)
    {
        lock (_lock)
        {
            _read[(userId, conversationId)] = Math.Max(seq, _read.GetValueOrDefault((userId, conversationId)));
        }
    }

    public long ReadSeq(long userId, string conversationId)
    {
        lock (_lock)
        {
            return _read.GetValueOrDefault((userId, conversationId));
        }
    }

    public SyncResponse Overview(long userId)
    {
        lock (_lock)
        {
            var response = new SyncResponse();
            foreach (var (id, list) in _messages)
            {
                if (list.Count == 0 || !Recipients(list[0]).Contains(userId))
                {
                    continue;
                }

                var delivered = _delivered.GetValueOrDefault((userId, id));
                response.Conversations.Add(new ConversationState
                {
                    ConversationId = id,
                    LastSeq = list.Count,
                    DeliveredSeq = delivered,
                    ReadSeq = _read.GetValueOrDefault((userId, id)),
                    Unread = list.Count - _read.GetValueOrDefault((userId, id)),
                    Peer = ConversationIds.PeerOf(id, userId),
                    LastMessage = list[^1],
                });
            }

            return response;
        }
    }

    public SyncResponse Page(string conversationId, long afterSeq, int limit)
    {
        lock (_lock)
        {
            var list = _messages.TryGetValue(conversationId, out var l) ? l : [];
            var page = list.Where(m => m.Seq > afterSeq).Take(limit <= 0 ? 100 : limit).ToList();
            var response = new SyncResponse { HasMore = page.Count > 0 && list[^1].Seq > page[^1].Seq };
            response.Messages.AddRange(page);
            return response;
        }
    }

    public long CreateGroup(string name, long owner)
    {
        lock (_lock)
        {
            var id = _nextGroupId++;
            _groups[id] = (name, owner, [owner]);
            return id;
        }
    }

    public bool JoinGroup(long groupId, long userId)
    {
        lock (_lock)
        {
            return _groups.TryGetValue(groupId, out var g) && (g.Members.Add(userId) || true);
        }
    }

    public bool LeaveGroup(long groupId, long userId)
    {
        lock (_lock)
        {
            return _groups.TryGetValue(groupId, out var g) && g.Members.Remove(userId);
        }
    }

    public IReadOnlyList<(long Id, string Name, long Owner, int Count)> GroupsOf(long userId)
    {
        lock (_lock)
        {
            return _groups.Where(g => g.Value.Members.Contains(userId)).Select(g => (g.Key, g.Value.Name, g.Value.Owner, g.Value.Members.Count)).ToList();
        }
    }

    public IReadOnlyList<long>? MembersOf(long groupId)
    {
        lock (_lock)
        {
            return _groups.TryGetValue(groupId, out var g) ? g.Members.ToList() : null;
        }
    }

    /// <summary>The server holding the user's connection, if any.</summary>
    public FakeImServer? ServerOf(long userId) => Servers.FirstOrDefault(s => s.IsConnected(userId));

    public IEnumerable<long> OnlineUsers() => Servers.SelectMany(s => s.ConnectedUsers()).Distinct();

    /// <summary>Pushes a stored message to every recipient online anywhere, except the sending connection.</summary>
    public async Task DispatchAsync(ChatMessage message, object? exceptConnection)
    {
        foreach (var userId in Recipients(message))
        {
            foreach (var server in Servers)
            {
                await server.DeliverAsync(userId, message, exceptConnection);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        Route?.Dispose();
        foreach (var server in Servers)
        {
            await server.DisposeAsync();
        }
    }
}
