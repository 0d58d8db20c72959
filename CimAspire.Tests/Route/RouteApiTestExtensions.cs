using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CimAspire.Protocol;

namespace CimAspire.Tests.Route;

/// <summary>Short ways to register, log in and read problem details in the route API tests.</summary>
public static class RouteApiTestExtensions
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    public const string Password = "correct horse battery";

    public static string UniqueName(string stem) => $"{stem}_{Guid.NewGuid():N}"[..Math.Min(32, stem.Length + 13)];

    public static async Task<AccountDto> RegisterAsync(this HttpClient http, string userName, string password = Password)
    {
        using var response = await http.PostAsJsonAsync(RouteApiPaths.Accounts, new RegisterRequest(userName, password)).WaitAsync(Timeout);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<AccountDto>().WaitAsync(Timeout))!;
    }

    public static async Task<LoginResponse> LoginAsync(this HttpClient http, string userName, string password = Password)
    {
        using var response = await http.PostAsJsonAsync(RouteApiPaths.Login, new LoginRequestDto(userName, password)).WaitAsync(Timeout);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<LoginResponse>().WaitAsync(Timeout))!;
    }

    /// <summary>Registers a fresh user and logs in.</summary>
    public static async Task<LoginResponse> NewUserAsync(this HttpClient http, string stem = "user")
    {
        var name = UniqueName(stem);
        await http.RegisterAsync(name);
        return await http.LoginAsync(name);
    }

    public static HttpClient WithToken(this HttpClient http, string token)
    {
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    public static async Task<HttpResponseMessage> SendAsync(this HttpClient http, HttpMethod method, string path, string? token = null, object? body = null, string? rawJson = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (rawJson is not null)
        {
            request.Content = new StringContent(rawJson, Encoding.UTF8, "application/json");
        }
        else if (body is not null)
        {
            request.Content = JsonContent.Create(body, body.GetType());
        }

        return await http.SendAsync(request).WaitAsync(Timeout);
    }

    public static async Task<T> ReadAsync<T>(this HttpResponseMessage response, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var text = await response.Content.ReadAsStringAsync().WaitAsync(Timeout);
        Assert.True(response.StatusCode == expected, $"Expected {expected}, got {response.StatusCode}: {text}");
        return JsonSerializer.Deserialize<T>(text, JsonSerializerOptions.Web)!;
    }

    /// <summary>Asserts a problem-details response with the status and returns its detail (and errors, when present).</summary>
    public static async Task<JsonElement> AssertProblemAsync(this HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync().WaitAsync(Timeout);
        Assert.True(response.StatusCode == status, $"Expected {status}, got {response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("traceId").GetString()));
        return problem;
    }

    public static string Detail(this JsonElement problem) => problem.GetProperty("detail").GetString() ?? "";
}
