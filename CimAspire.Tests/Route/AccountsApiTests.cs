using System.Net;
using System.Net.Http.Json;
using CimAspire.Delivery;
using CimAspire.Protocol;
using StackExchange.Redis;

namespace CimAspire.Tests.Route;

[Collection(RouteApiCollection.Name)]
public class AccountsApiTests(RouteApiFixture fixture)
{
    private readonly HttpClient _http = fixture.Api.CreateClient();

    [Fact]
    public async Task RegisterReturnsTheAccountAndItCanBeFoundByIdAndByNameIgnoringCase()
    {
        var name = RouteApiTestExtensions.UniqueName("Alice");
        using var response = await _http.PostAsJsonAsync(RouteApiPaths.Accounts, new RegisterRequest(name, RouteApiTestExtensions.Password));
        var account = await response.ReadAsync<AccountDto>(HttpStatusCode.Created);
        Assert.Equal(name, account.UserName);
        Assert.True(account.UserId > 0);
        Assert.Equal($"/api/accounts/{account.UserId}", response.Headers.Location?.OriginalString);

        var token = (await _http.LoginAsync(name)).Token;
        using var byId = await _http.SendAsync(HttpMethod.Get, $"/api/accounts/{account.UserId}", token);
        Assert.Equal(account, await byId.ReadAsync<AccountDto>());
        using var byName = await _http.SendAsync(HttpMethod.Get, $"/api/accounts/by-name/{name.ToUpperInvariant()}", token);
        Assert.Equal(account, await byName.ReadAsync<AccountDto>());

        using var missing = await _http.SendAsync(HttpMethod.Get, "/api/accounts/999999999", token);
        Assert.Contains("999999999", (await missing.AssertProblemAsync(HttpStatusCode.NotFound)).Detail());
        using var missingName = await _http.SendAsync(HttpMethod.Get, "/api/accounts/by-name/nobody_at_all_here", token);
        await missingName.AssertProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task PasswordsAreStoredOnlyAsASlowSaltedHash()
    {
        var first = await _http.RegisterAsync(RouteApiTestExtensions.UniqueName("hash1"));
        var second = await _http.RegisterAsync(RouteApiTestExtensions.UniqueName("hash2"));
        await using var redis = await ConnectionMultiplexer.ConnectAsync(fixture.Redis.ConnectionString);
        var a = (string?)await redis.GetDatabase().HashGetAsync(RedisKeys.User(first.UserId), "pw");
        var b = (string?)await redis.GetDatabase().HashGetAsync(RedisKeys.User(second.UserId), "pw");
        Assert.NotNull(a);
        Assert.DoesNotContain(RouteApiTestExtensions.Password, a);
        // The same password under two users hashes differently: a per-user salt.
        Assert.NotEqual(a, b);
        // Identity v3 format: 0x01 marker, PBKDF2 with an iteration count and salt inside.
        Assert.Equal(0x01, Convert.FromBase64String(a)[0]);
    }

    [Fact]
    public async Task ATakenNameIsA409ProblemWhateverItsCase()
    {
        var name = RouteApiTestExtensions.UniqueName("Taken");
        await _http.RegisterAsync(name);
        using var again = await _http.PostAsJsonAsync(RouteApiPaths.Accounts, new RegisterRequest(name.ToLowerInvariant(), "another password"));
        var problem = await again.AssertProblemAsync(HttpStatusCode.Conflict);
        Assert.Contains("already taken", problem.Detail());
    }

    [Fact]
    public async Task ConcurrentRegistrationsOfOneNameCreateExactlyOneAccount()
    {
        var name = RouteApiTestExtensions.UniqueName("race");
        var attempts = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ =>
            _http.PostAsJsonAsync(RouteApiPaths.Accounts, new RegisterRequest(name, RouteApiTestExtensions.Password))));
        Assert.Equal(1, attempts.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(7, attempts.Count(r => r.StatusCode == HttpStatusCode.Conflict));
        foreach (var attempt in attempts)
        {
            attempt.Dispose();
        }
    }

    [Theory]
    [InlineData("ab", "userName", "3 to 32")]
    [InlineData("this_name_is_much_too_long_for_us", "userName", "3 to 32")]
    [InlineData("bad name", "userName", "may contain only")]
    [InlineData("bad/name", "userName", "may contain only")]
    [InlineData("émile", "userName", "may contain only")]
    [InlineData(null, "userName", "required")]
    public async Task InvalidUserNamesAre400WithTheRule(string? userName, string field, string message)
    {
        using var response = await _http.PostAsJsonAsync(RouteApiPaths.Accounts, new RegisterRequest(userName, RouteApiTestExtensions.Password));
        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest);
        Assert.Contains(message, problem.Detail());
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _));
    }

    [Theory]
    [InlineData(null, "required")]
    [InlineData("", "required")]
    [InlineData("short", "8 to 256")]
    public async Task InvalidPasswordsAre400WithTheRule(string? password, string message)
    {
        using var response = await _http.PostAsJsonAsync(RouteApiPaths.Accounts, new RegisterRequest(RouteApiTestExtensions.UniqueName("pw"), password));
        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest);
        Assert.Contains(message, problem.Detail());
        Assert.True(problem.GetProperty("errors").TryGetProperty("password", out _));
    }

    [Fact]
    public async Task PrefixSearchFindsNamesStartingWithThePrefixInOrderAndNothingElse()
    {
        var stem = "px" + Guid.NewGuid().ToString("N")[..8];
        foreach (var suffix in new[] { "_carol", "_Bob", "_alice" })
        {
            await _http.RegisterAsync(stem + suffix);
        }

        await _http.RegisterAsync("q" + stem);
        var token = (await _http.LoginAsync(stem + "_alice")).Token;

        using var found = await _http.SendAsync(HttpMethod.Get, $"/api/accounts?prefix={stem.ToUpperInvariant()}", token);
        var names = (await found.ReadAsync<AccountDto[]>()).Select(a => a.UserName).ToArray();
        Assert.Equal([stem + "_alice", stem + "_Bob", stem + "_carol"], names);

        using var limited = await _http.SendAsync(HttpMethod.Get, $"/api/accounts?prefix={stem}&limit=2", token);
        Assert.Equal(2, (await limited.ReadAsync<AccountDto[]>()).Length);

        using var none = await _http.SendAsync(HttpMethod.Get, $"/api/accounts?prefix={stem}_zzz", token);
        Assert.Empty(await none.ReadAsync<AccountDto[]>());

        using var bad = await _http.SendAsync(HttpMethod.Get, "/api/accounts?prefix=a%20b", token);
        await bad.AssertProblemAsync(HttpStatusCode.BadRequest);
        using var badLimit = await _http.SendAsync(HttpMethod.Get, $"/api/accounts?prefix={stem}&limit=0", token);
        await badLimit.AssertProblemAsync(HttpStatusCode.BadRequest);
    }
}
