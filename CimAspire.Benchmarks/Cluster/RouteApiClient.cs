using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using CimAspire.Protocol;

namespace CimAspire.Benchmarks.Cluster;

/// <summary>The few route API calls the harness makes (register, log in, refresh, groups), on its contracts.</summary>
public sealed class RouteApiClient : IDisposable
{
    // The paths of the route API (see docs/route-api.md).
    public const string AccountsPath = "/api/accounts";
    public const string LoginPath = "/api/sessions/login";
    public const string RefreshPath = "/api/sessions/refresh";
    public const string GroupsPath = "/api/groups";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly HttpClient _http;

    public RouteApiClient(Uri routeUrl)
    {
        if (!routeUrl.IsLoopback)
        {
            throw new InvalidOperationException($"The harness only talks to loopback addresses, not {routeUrl}.");
        }

        _http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            BaseAddress = routeUrl,
            Timeout = TimeSpan.FromSeconds(30),
        };
    }

    public async Task<AccountDto> RegisterAsync(string userName, string password, CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsJsonAsync(AccountsPath, new RegisterRequest(userName, password), Json, cancellationToken);
        await EnsureAsync(response, "register", cancellationToken);
        return (await response.Content.ReadFromJsonAsync<AccountDto>(Json, cancellationToken))!;
    }

    public async Task<LoginResponse> LoginAsync(string userName, string password, CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsJsonAsync(LoginPath, new LoginRequestDto(userName, password), Json, cancellationToken);
        await EnsureAsync(response, "login", cancellationToken);
        return (await response.Content.ReadFromJsonAsync<LoginResponse>(Json, cancellationToken))!;
    }

    public async Task<LoginResponse> RefreshAsync(string token, string? avoidServerId, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, RefreshPath)
        {
            Content = JsonContent.Create(new RefreshRequest(avoidServerId), options: Json),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await _http.SendAsync(request, cancellationToken);
        await EnsureAsync(response, "refresh", cancellationToken);
        return (await response.Content.ReadFromJsonAsync<LoginResponse>(Json, cancellationToken))!;
    }

    public async Task<GroupDto> CreateGroupAsync(string token, string name, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, GroupsPath) { Content = JsonContent.Create(new CreateGroupRequest(name), options: Json) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await _http.SendAsync(request, cancellationToken);
        await EnsureAsync(response, "create group", cancellationToken);
        return (await response.Content.ReadFromJsonAsync<GroupDto>(Json, cancellationToken))!;
    }

    public async Task JoinGroupAsync(string token, long groupId, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{GroupsPath}/{groupId}/join");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await _http.SendAsync(request, cancellationToken);
        await EnsureAsync(response, "join group", cancellationToken);
    }

    private static async Task EnsureAsync(HttpResponseMessage response, string operation, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new RouteApiException(response.StatusCode, $"{operation}: {(int)response.StatusCode} {response.ReasonPhrase} {Truncate(body)}");
        }
    }

    private static string Truncate(string s) => s.Length <= 300 ? s : s[..300] + "...";

    public void Dispose() => _http.Dispose();
}

public sealed class RouteApiException(HttpStatusCode status, string message) : Exception(message)
{
    public HttpStatusCode Status { get; } = status;
}
