using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using CimAspire.Delivery;
using CimAspire.Protocol;
using StackExchange.Redis;

namespace CimAspire.Tests.Route;

[Collection(RouteApiCollection.Name)]
public class SessionsApiTests(RouteApiFixture fixture)
{
    private readonly HttpClient _http = fixture.Api.CreateClient();
    private readonly AccessTokenCodec _codec = new(RouteApiFactory.TokenKey);

    [Fact]
    public async Task LoginReturnsTheServerATokenForItItsExpiryAndTheReconnectPolicy()
    {
        var name = RouteApiTestExtensions.UniqueName("login");
        var account = await _http.RegisterAsync(name);
        var login = await _http.LoginAsync(name.ToUpperInvariant());

        Assert.Equal(account.UserId, login.UserId);
        Assert.Equal(name, login.UserName);
        Assert.Equal(new ServerEndpointDto(fixture.Server.Id, "127.0.0.1", fixture.Server.Registration.Port), login.Server);
        Assert.Equal(new ReconnectPolicyDto(500, 30_000, 1.0), login.Reconnect);
        Assert.Equal(AccessTokenStatus.Valid, _codec.Validate(login.Token, DateTimeOffset.UtcNow, out var claims));
        Assert.Equal(fixture.Server.Id, claims!.ServerId);
        Assert.Equal(account.UserId, claims.UserId);
        Assert.Equal(login.ExpiresAt, claims.ExpiresAt);
        Assert.InRange(login.ExpiresAt - DateTimeOffset.UtcNow, TimeSpan.FromHours(11.9), TimeSpan.FromHours(12.1));

        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.Redis.ConnectionString);
        var session = redis.GetDatabase().StringGetWithExpiry(RedisKeys.UserSession(account.UserId, claims.SessionId));
        Assert.Equal(fixture.Server.Id, (string?)session.Value);
        Assert.InRange(session.Expiry!.Value, TimeSpan.FromHours(11.9), TimeSpan.FromHours(12.1));
    }

    [Fact]
    public async Task AWrongPasswordAndAnUnknownUserGetTheSame401()
    {
        var name = RouteApiTestExtensions.UniqueName("secret");
        await _http.RegisterAsync(name);

        using var wrong = await _http.PostAsJsonAsync(RouteApiPaths.Login, new LoginRequestDto(name, "not the password"));
        using var unknown = await _http.PostAsJsonAsync(RouteApiPaths.Login, new LoginRequestDto(RouteApiTestExtensions.UniqueName("ghost"), "not the password"));
        using var invalidName = await _http.PostAsJsonAsync(RouteApiPaths.Login, new LoginRequestDto("x y", "not the password"));
        var problems = new[]
        {
            await wrong.AssertProblemAsync(HttpStatusCode.Unauthorized),
            await unknown.AssertProblemAsync(HttpStatusCode.Unauthorized),
            await invalidName.AssertProblemAsync(HttpStatusCode.Unauthorized),
        };

        static string WithoutTrace(JsonElement p) =>
            JsonSerializer.Serialize(p.EnumerateObject().Where(x => x.Name != "traceId").ToDictionary(x => x.Name, x => x.Value.ToString()));
        Assert.Equal("The user name or the password is wrong.", problems[0].Detail());
        Assert.All(problems, p => Assert.Equal(WithoutTrace(problems[0]), WithoutTrace(p)));
    }

    [Fact]
    public async Task RefreshIssuesANewTokenOfTheSameSessionWithoutThePassword()
    {
        var login = await _http.NewUserAsync("refresh");
        using var response = await _http.SendAsync(HttpMethod.Post, RouteApiPaths.Refresh, login.Token, new RefreshRequest(null));
        var refreshed = await response.ReadAsync<LoginResponse>();

        Assert.Equal(login.UserId, refreshed.UserId);
        Assert.Equal(login.Server, refreshed.Server);
        _codec.Validate(login.Token, DateTimeOffset.UtcNow, out var before);
        Assert.Equal(AccessTokenStatus.Valid, _codec.Validate(refreshed.Token, DateTimeOffset.UtcNow, out var after));
        Assert.Equal(before!.SessionId, after!.SessionId);

        // An empty body is a refresh without preferences.
        using var empty = await _http.SendAsync(HttpMethod.Post, RouteApiPaths.Refresh, refreshed.Token);
        await empty.ReadAsync<LoginResponse>();
    }

    [Fact]
    public async Task LogoutEndsTheSessionAndEveryTokenOfIt()
    {
        var login = await _http.NewUserAsync("logout");
        using var refreshed = await _http.SendAsync(HttpMethod.Post, RouteApiPaths.Refresh, login.Token);
        var second = await refreshed.ReadAsync<LoginResponse>();

        using var logout = await _http.SendAsync(HttpMethod.Post, RouteApiPaths.Logout, login.Token);
        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);

        foreach (var token in new[] { login.Token, second.Token })
        {
            using var after = await _http.SendAsync(HttpMethod.Get, $"/api/accounts/{login.UserId}", token);
            Assert.Contains("session has ended", (await after.AssertProblemAsync(HttpStatusCode.Unauthorized)).Detail());
            using var refresh = await _http.SendAsync(HttpMethod.Post, RouteApiPaths.Refresh, token);
            await refresh.AssertProblemAsync(HttpStatusCode.Unauthorized);
        }

        // Another login of the same user is a separate session and still works.
        var again = await _http.LoginAsync(login.UserName);
        using var ok = await _http.SendAsync(HttpMethod.Get, $"/api/accounts/{login.UserId}", again.Token);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task RequestsWithoutAValidTokenAre401Problems()
    {
        var login = await _http.NewUserAsync("tokens");
        _codec.Validate(login.Token, DateTimeOffset.UtcNow, out var claims);
        var expired = _codec.Issue(claims! with { ExpiresAtUnixSeconds = DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds() });
        var foreign = new AccessTokenCodec("some-other-key-0123456789").Issue(claims!);
        var noSession = _codec.Issue(claims! with { SessionId = "no-such-session" });

        var cases = new (string? Token, string Detail)[]
        {
            (null, "A token is required"),
            ("garbage", "not valid"),
            (foreign, "not valid"),
            (expired, "expired"),
            (noSession, "session has ended"),
        };
        foreach (var (token, detail) in cases)
        {
            foreach (var (method, path) in new[]
            {
                (HttpMethod.Get, $"/api/accounts/{login.UserId}"),
                (HttpMethod.Get, "/api/accounts?prefix=a"),
                (HttpMethod.Post, RouteApiPaths.Refresh),
                (HttpMethod.Post, RouteApiPaths.Logout),
            })
            {
                using var response = await _http.SendAsync(method, path, token);
                var problem = await response.AssertProblemAsync(HttpStatusCode.Unauthorized);
                Assert.Contains(detail, problem.Detail());
            }
        }

        using var basic = new HttpRequestMessage(HttpMethod.Get, $"/api/accounts/{login.UserId}");
        basic.Headers.TryAddWithoutValidation("Authorization", "Basic dXNlcjpwYXNz");
        using var basicResponse = await _http.SendAsync(basic).WaitAsync(RouteApiTestExtensions.Timeout);
        Assert.Contains("Bearer", (await basicResponse.AssertProblemAsync(HttpStatusCode.Unauthorized)).Detail());
    }

    [Fact]
    public async Task OpenApiDocumentDescribesTheEndpointsInDevelopment()
    {
        using var response = await _http.GetAsync("/openapi/v1.json").WaitAsync(RouteApiTestExtensions.Timeout);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var paths = document.RootElement.GetProperty("paths");
        // Every path the clients build from the shared list is served (and documented) by the route API.
        var shared = typeof(RouteApiPaths).GetFields().Select(f => (string)f.GetRawConstantValue()!).ToList();
        Assert.Equal(19, shared.Count);
        foreach (var path in shared)
        {
            Assert.True(paths.TryGetProperty(path, out _), $"{path} is missing from the OpenAPI document.");
        }

        Assert.True(document.RootElement.GetProperty("components").GetProperty("securitySchemes").TryGetProperty("Bearer", out _));
        Assert.False(paths.GetProperty(RouteApiPaths.Login).GetProperty("post").TryGetProperty("security", out _));
        var refreshSecurity = paths.GetProperty(RouteApiPaths.Refresh).GetProperty("post").GetProperty("security");
        Assert.True(refreshSecurity[0].TryGetProperty("Bearer", out _));
    }
}
