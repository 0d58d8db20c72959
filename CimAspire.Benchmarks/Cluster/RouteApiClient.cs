using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using CimAspire.Protocol;

namespace CimAspire.Benchmarks.Cluster;

/// <summary>
/// The few route API calls the harness makes (register, log in, refresh, groups), on the shared contracts and paths.
/// Its own small client rather than the SDK's, whose route client is internal to a session: the harness shares one
/// loopback-only HttpClient with a wide connection pool across thousands of simulated users.
/// </summary>
public sealed class RouteApiClient : IDisposable
{
    /// <summary>HTTP connections to the route API at most (the reconnect storm keeps this many refreshes in flight).</summary>
    public const int MaxConnections = 1024;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly HttpClient _http;

    public RouteApiClient(Uri routeUrl)
    {
        if (!routeUrl.IsLoopback)
        {
            throw new InvalidOperationException($"The harness only talks to loopback addresses, not {routeUrl}.");
        }

        // As many connections as requests the reconnect storm keeps in flight: real clients each bring their own.
        _http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = MaxConnections, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            BaseAddress = routeUrl,
            Timeout = TimeSpan.FromSeconds(30),
        };
    }

    public async Task<AccountDto> RegisterAsync(string userName, string password, CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsync(RouteApiPaths.Accounts, Body(new RegisterRequest(userName, password)), cancellationToken);
        await EnsureAsync(response, "register", cancellationToken);
        return (await response.Content.ReadFromJsonAsync<AccountDto>(Json, cancellationToken))!;
    }

    public async Task<LoginResponse> LoginAsync(string userName, string password, CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsync(RouteApiPaths.Login, Body(new LoginRequestDto(userName, password)), cancellationToken);
        await EnsureAsync(response, "login", cancellationToken);
        return (await response.Content.ReadFromJsonAsync<LoginResponse>(Json, cancellationToken))!;
    }

    public async Task<LoginResponse> RefreshAsync(string token, string? avoidServerId, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, RouteApiPaths.Refresh)
        {
            Content = Body(new RefreshRequest(avoidServerId)),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await _http.SendAsync(request, cancellationToken);
        await EnsureAsync(response, "refresh", cancellationToken);
        return (await response.Content.ReadFromJsonAsync<LoginResponse>(Json, cancellationToken))!;
    }

    public async Task<GroupDto> CreateGroupAsync(string token, string name, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, RouteApiPaths.Groups) { Content = Body(new CreateGroupRequest(name)) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await _http.SendAsync(request, cancellationToken);
        await EnsureAsync(response, "create group", cancellationToken);
        return (await response.Content.ReadFromJsonAsync<GroupDto>(Json, cancellationToken))!;
    }

    public async Task JoinGroupAsync(string token, long groupId, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, RouteApiPaths.GroupJoin.Replace("{groupId}", groupId.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await _http.SendAsync(request, cancellationToken);
        await EnsureAsync(response, "join group", cancellationToken);
    }

    // With a Content-Length, as the SDK sends it (JsonContent would stream it chunked).
    private static ByteArrayContent Body<T>(T value) => new(JsonSerializer.SerializeToUtf8Bytes(value, Json))
    {
        Headers = { ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" } },
    };

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

    /// <summary>A short kind for error counts: the exception type, with the status for a route API answer.</summary>
    public static string Describe(Exception e) => e is RouteApiException r ? $"{nameof(RouteApiException)} {(int)r.Status}" : e.GetType().Name;
}
