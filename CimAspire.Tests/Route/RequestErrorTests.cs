using System.Net;
using System.Net.Http.Json;
using System.Text;
using CimAspire.Protocol;

namespace CimAspire.Tests.Route;

/// <summary>Malformed requests get a 4xx problem that says what was wrong, never a 500.</summary>
[Collection(RouteApiCollection.Name)]
public class RequestErrorTests(RouteApiFixture fixture)
{
    private readonly HttpClient _http = fixture.Api.CreateClient();

    [Theory]
    [InlineData(RouteApiPaths.Accounts, "{\"userName\": \"abc\", ")]
    [InlineData(RouteApiPaths.Accounts, "not json at all")]
    [InlineData(RouteApiPaths.Accounts, "{\"userName\": 42, \"password\": \"abcdefghij\"}")]
    [InlineData(RouteApiPaths.Login, "[1, 2, 3]")]
    [InlineData(RouteApiPaths.Login, "{\"userName\": \"abc\", \"password\": }")]
    public async Task UnreadableJsonIsA400ProblemNamingTheProblem(string path, string json)
    {
        using var response = await _http.SendAsync(HttpMethod.Post, path, rawJson: json);
        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest);
        Assert.Contains("JSON", problem.Detail());
    }

    [Theory]
    [InlineData(RouteApiPaths.Accounts)]
    [InlineData(RouteApiPaths.Login)]
    public async Task AMissingBodyIsA400Problem(string path)
    {
        using var response = await _http.SendAsync(HttpMethod.Post, path, rawJson: "");
        await response.AssertProblemAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task ABodyThatIsNotJsonIsA415Problem()
    {
        using var content = new StringContent("userName=abc&password=abcdefghij", Encoding.UTF8, "application/x-www-form-urlencoded");
        using var response = await _http.PostAsync(RouteApiPaths.Login, content).WaitAsync(RouteApiTestExtensions.Timeout);
        await response.AssertProblemAsync(HttpStatusCode.UnsupportedMediaType);
    }

    [Theory]
    [InlineData("{}", "userName")]
    [InlineData("{\"userName\": \"someone\"}", "password")]
    [InlineData("{\"password\": \"abcdefghij\"}", "userName")]
    public async Task MissingLoginFieldsAre400WithTheField(string json, string field)
    {
        using var response = await _http.SendAsync(HttpMethod.Post, RouteApiPaths.Login, rawJson: json);
        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _));
    }

    [Fact]
    public async Task ABadRouteOrQueryValueIsA4xxProblem()
    {
        var login = await _http.NewUserAsync("badq");
        using var badLimit = await _http.SendAsync(HttpMethod.Get, "/api/accounts?prefix=a&limit=many", login.Token);
        await badLimit.AssertProblemAsync(HttpStatusCode.BadRequest);
        using var notANumber = await _http.SendAsync(HttpMethod.Get, "/api/accounts/abc", login.Token);
        await notANumber.AssertProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task RefreshWithUnreadableJsonIsA400Problem()
    {
        var login = await _http.NewUserAsync("badrefresh");
        using var response = await _http.SendAsync(HttpMethod.Post, RouteApiPaths.Refresh, login.Token, rawJson: "{\"avoidServerId\": [}");
        await response.AssertProblemAsync(HttpStatusCode.BadRequest);
        using var ok = await _http.PostAsJsonAsync(RouteApiPaths.Login, new LoginRequestDto(login.UserName, RouteApiTestExtensions.Password));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }
}
