using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using CimAspire.Protocol;
using CimAspire.Tests.Infrastructure;

namespace CimAspire.Tests.Client.Fakes;

/// <summary>
/// The route API's endpoints over real HTTP (HttpListener), on the fake cluster's state: enough for the SDK and for
/// the console client run as a process. Records every request.
/// </summary>
public sealed class FakeRouteApi : IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly FakeCluster _cluster;
    private readonly HttpListener _listener = new();
    private int _nextServer;

    private FakeRouteApi(FakeCluster cluster)
    {
        _cluster = cluster;
        var port = TestPorts.GetFreePort();
        BaseAddress = new Uri($"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(BaseAddress.ToString());
        _listener.Start();
    }

    public Uri BaseAddress { get; }

    /// <summary>Answer refreshes with 401, as when the session was ended elsewhere.</summary>
    public bool RefuseRefresh { get; set; }

    /// <summary>Server id that password logins are assigned to (null: round robin over live servers).</summary>
    public string? AssignTo { get; set; }

    /// <summary>Every request: method, path and query, body.</summary>
    public ConcurrentQueue<(string Method, string Path, string Body)> Requests { get; } = new();

    public IEnumerable<RefreshRequest> Refreshes =>
        Requests.Where(r => r.Path == "/api/sessions/refresh").Select(r => JsonSerializer.Deserialize<RefreshRequest>(r.Body, Json)!);

    public static FakeRouteApi Start(FakeCluster cluster)
    {
        var api = new FakeRouteApi(cluster);
        _ = api.LoopAsync();
        return api;
    }

    public void Dispose() => _listener.Close();

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        string body;
        using (var reader = new StreamReader(request.InputStream, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync();
        }

        var path = request.Url!.AbsolutePath;
        Requests.Enqueue((request.HttpMethod, request.Url.PathAndQuery, body));
        try
        {
            var (status, result) = Route(request.HttpMethod, path, request, body);
            response.StatusCode = status;
            if (result is not null)
            {
                response.ContentType = status >= 400 ? "application/problem+json" : "application/json";
                var bytes = JsonSerializer.SerializeToUtf8Bytes(result, result.GetType(), Json);
                await response.OutputStream.WriteAsync(bytes);
            }
        }
        catch (Exception e)
        {
            response.StatusCode = 500;
            await response.OutputStream.WriteAsync(Encoding.UTF8.GetBytes(e.ToString()));
        }
        finally
        {
            response.Close();
        }
    }

    private (int Status, object? Body) Route(string method, string path, HttpListenerRequest request, string body)
    {
        var segments = path.Trim('/').Split('/');
        if (method == "POST" && path == "/api/accounts")
        {
            var register = JsonSerializer.Deserialize<RegisterRequest>(body, Json)!;
            if (string.IsNullOrWhiteSpace(register.UserName) || string.IsNullOrEmpty(register.Password))
            {
                return Problem(400, "Invalid account", "A user name and a password are required.");
            }

            var id = _cluster.Register(register.UserName, register.Password);
            return id < 0
                ? Problem(409, "Name taken", $"The user name '{register.UserName}' is taken.")
                : (201, new AccountDto(id, register.UserName, DateTimeOffset.UtcNow));
        }

        if (method == "POST" && path == "/api/sessions/login")
        {
            var login = JsonSerializer.Deserialize<LoginRequestDto>(body, Json)!;
            var id = _cluster.CheckPassword(login.UserName ?? string.Empty, login.Password ?? string.Empty);
            return id < 0 ? Problem(401, "Login failed", "Unknown user or wrong password.") : (200, Issue(id, null));
        }

        var caller = _cluster.CheckToken(request.Headers["Authorization"]?.Replace("Bearer ", string.Empty, StringComparison.Ordinal));
        if (caller is null)
        {
            return Problem(401, "Unauthorized", "A valid bearer token is required.");
        }

        var me = caller.Value.UserId;
        switch (method, segments)
        {
            case ("POST", ["api", "sessions", "refresh"]):
                if (RefuseRefresh)
                {
                    return Problem(401, "Session ended", "The session is no longer valid.");
                }

                var refresh = JsonSerializer.Deserialize<RefreshRequest>(body, Json)!;
                return (200, Issue(me, refresh.AvoidServerId));
            case ("POST", ["api", "sessions", "logout"]):
                _cluster.RevokeTokensOf(me);
                return (204, null);
            case ("GET", ["api", "accounts", "by-name", var name]):
                var found = _cluster.FindAccount(Uri.UnescapeDataString(name));
                return found is { } f ? (200, new AccountDto(f.Id, f.Name, DateTimeOffset.UtcNow)) : Problem(404, "Not found", "No such user.");
            case ("GET", ["api", "accounts", var idText]):
                var byId = _cluster.NameOf(long.Parse(idText));
                return byId is null ? Problem(404, "Not found", "No such user.") : (200, new AccountDto(long.Parse(idText), byId, DateTimeOffset.UtcNow));
            case ("GET", ["api", "accounts"]):
                var prefix = request.QueryString["prefix"] ?? string.Empty;
                return (200, _cluster.Accounts().Where(a => a.Name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
                    .Select(a => new AccountDto(a.Id, a.Name, DateTimeOffset.UtcNow)).ToList());
            case ("GET", ["api", "presence", "online"]):
                var online = _cluster.OnlineUsers().Select(u => new PresenceDto(u, _cluster.NameOf(u) ?? "?", true, _cluster.ServerOf(u)?.ServerId, DateTimeOffset.UtcNow)).ToList();
                return (200, new OnlineUsersPage(online, online.Count, 0, 50));
            case ("POST", ["api", "groups"]):
                var create = JsonSerializer.Deserialize<CreateGroupRequest>(body, Json)!;
                var groupId = _cluster.CreateGroup(create.Name!, me);
                return (201, new GroupDto(groupId, create.Name!, me, 1));
            case ("GET", ["api", "groups"]):
                return (200, _cluster.GroupsOf(me).Select(g => new GroupDto(g.Id, g.Name, g.Owner, g.Count)).ToList());
            case ("POST", ["api", "groups", var gid, "join"]):
                return _cluster.JoinGroup(long.Parse(gid), me) ? (204, null) : Problem(404, "Not found", "No such group.");
            case ("POST", ["api", "groups", var gid, "leave"]):
                return _cluster.LeaveGroup(long.Parse(gid), me) ? (204, null) : Problem(404, "Not found", "Not a member of that group.");
            case ("GET", ["api", "groups", var gid, "members"]):
                var members = _cluster.MembersOf(long.Parse(gid));
                return members is null
                    ? Problem(404, "Not found", "No such group.")
                    : (200, members.Select(m => new GroupMemberDto(m, _cluster.NameOf(m) ?? "?", _cluster.ServerOf(m) is not null)).ToList());
            case ("GET", ["api", "conversations"]):
                return (200, _cluster.Overview(me).Conversations.Select(c => new ConversationDto(
                    c.ConversationId,
                    c.Peer?.KindCase == Target.KindOneofCase.UserId ? c.Peer.UserId : null,
                    c.Peer?.KindCase == Target.KindOneofCase.GroupId ? c.Peer.GroupId : null,
                    c.Peer?.KindCase == Target.KindOneofCase.UserId ? _cluster.NameOf(c.Peer.UserId) ?? "?" : c.ConversationId,
                    c.LastSeq,
                    c.ReadSeq,
                    c.Unread,
                    ToDto(c.LastMessage))).ToList());
            case ("GET", ["api", "conversations", var cid, "messages"]):
                var before = long.TryParse(request.QueryString["beforeSeq"], out var b) ? b : long.MaxValue;
                var limit = int.TryParse(request.QueryString["limit"], out var l) ? l : 50;
                var all = _cluster.MessagesOf(Uri.UnescapeDataString(cid)).Where(m => m.Seq < before).ToList();
                var page = all.Skip(Math.Max(0, all.Count - limit)).Select(m => ToDto(m)!).ToList();
                return (200, new HistoryPage(cid, page, all.Count > page.Count));
            default:
                return Problem(404, "Not found", $"{method} {path} is not a route.");
        }
    }

    private LoginResponse Issue(long userId, string? avoid)
    {
        var live = _cluster.Servers.Where(s => s.IsAlive).ToList();
        var candidates = live.Where(s => s.ServerId != avoid && (AssignTo is null || avoid is not null || s.ServerId == AssignTo)).ToList();

        // Like the real route API right after a crash: with no better choice, it may still hand out a dead server.
        var pool = candidates.Count > 0 ? candidates : live.Count > 0 ? live : _cluster.Servers;
        var server = pool[(int)((uint)Interlocked.Increment(ref _nextServer) % pool.Count)];
        var token = _cluster.IssueToken(userId, server.ServerId);
        return new LoginResponse(
            userId,
            _cluster.NameOf(userId)!,
            token,
            DateTimeOffset.UtcNow.AddHours(1),
            new ServerEndpointDto(server.ServerId, "127.0.0.1", server.Port),
            new ReconnectPolicyDto(50, 400, 0.2));
    }

    private static MessageDto? ToDto(ChatMessage? m) => m is null
        ? null
        : new MessageDto(m.ServerMsgId, m.ClientMsgId, m.ConversationId, m.Seq, m.SenderId, m.SenderName, m.Body.ToStringUtf8(), DateTimeOffset.FromUnixTimeMilliseconds(m.ServerTimeMs));

    private static (int, object?) Problem(int status, string title, string detail) =>
        (status, new Dictionary<string, object> { ["type"] = "about:blank", ["title"] = title, ["status"] = status, ["detail"] = detail });
}
