using System.Net;
using System.Net.Http.Json;
using CimAspire.Protocol;

namespace CimAspire.Tests.Route;

[Collection(RouteApiCollection.Name)]
public class RateLimitTests(RouteApiFixture fixture)
{
    [Fact]
    public async Task RegisterAndLoginBeyondTheLimitAre429ProblemsWithRetryAfter()
    {
        var http = fixture.CreateApi(fixture.Directory, new Dictionary<string, string?>
        {
            ["Cim:Route:RegisterRateLimit:PermitLimit"] = "2",
            ["Cim:Route:RegisterRateLimit:WindowSeconds"] = "3600",
            ["Cim:Route:LoginRateLimit:PermitLimit"] = "3",
            ["Cim:Route:LoginRateLimit:WindowSeconds"] = "3600",
        }).CreateClient();

        var name = RouteApiTestExtensions.UniqueName("limited");
        await http.RegisterAsync(name);
        // A rejected registration counts too: the limit is on attempts, not on successes.
        using var second = await http.PostAsJsonAsync(RouteApiPaths.Accounts, new RegisterRequest("x", "y"));
        Assert.Equal(HttpStatusCode.BadRequest, second.StatusCode);
        using var third = await http.PostAsJsonAsync(RouteApiPaths.Accounts, new RegisterRequest(RouteApiTestExtensions.UniqueName("limited"), RouteApiTestExtensions.Password));
        var problem = await third.AssertProblemAsync(HttpStatusCode.TooManyRequests);
        Assert.Contains("Too many requests", problem.Detail());
        Assert.True(third.Headers.RetryAfter?.Delta > TimeSpan.Zero);

        await http.LoginAsync(name);
        using var wrong = await http.PostAsJsonAsync(RouteApiPaths.Login, new LoginRequestDto(name, "wrong password"));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        var login = await http.LoginAsync(name);
        using var limited = await http.PostAsJsonAsync(RouteApiPaths.Login, new LoginRequestDto(name, RouteApiTestExtensions.Password));
        await limited.AssertProblemAsync(HttpStatusCode.TooManyRequests);

        // Only register and login are limited: a token keeps working.
        using var refresh = await http.SendAsync(HttpMethod.Post, RouteApiPaths.Refresh, login.Token);
        Assert.Equal(HttpStatusCode.OK, refresh.StatusCode);
    }
}
