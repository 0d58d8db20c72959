using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using CimAspire.Protocol;

namespace CimAspire.Client.Routing;

/// <summary>
/// The route API over HTTP. The bearer token goes on each request (never on the shared HttpClient), because one
/// HttpClient may serve thousands of sessions.
/// </summary>
internal sealed class RouteApiClient(HttpClient http, Uri baseAddress)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public Task<AccountDto> RegisterAsync(RegisterRequest request, CancellationToken ct) =>
        SendAsync<AccountDto>(HttpMethod.Post, RouteApiUris.Accounts, null, request, ct)!;

    public Task<LoginResponse> LoginAsync(LoginRequestDto request, CancellationToken ct) =>
        SendAsync<LoginResponse>(HttpMethod.Post, RouteApiUris.Login, null, request, ct)!;

    public Task<LoginResponse> RefreshAsync(string token, RefreshRequest request, CancellationToken ct) =>
        SendAsync<LoginResponse>(HttpMethod.Post, RouteApiUris.Refresh, token, request, ct)!;

    public Task LogoutAsync(string token, CancellationToken ct) =>
        SendAsync<object>(HttpMethod.Post, RouteApiUris.Logout, token, null, ct);

    public async Task<T> GetAsync<T>(string path, string? token, CancellationToken ct) =>
        (await SendAsync<T>(HttpMethod.Get, path, token, null, ct).ConfigureAwait(false))!;

    /// <summary>GET that maps 404 to null.</summary>
    public async Task<T?> FindAsync<T>(string path, string? token, CancellationToken ct)
        where T : class
    {
        try
        {
            return await SendAsync<T>(HttpMethod.Get, path, token, null, ct).ConfigureAwait(false);
        }
        catch (CimApiException e) when (e.StatusCode == (int)HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<T> PostAsync<T>(string path, string? token, object? body, CancellationToken ct) =>
        (await SendAsync<T>(HttpMethod.Post, path, token, body, ct).ConfigureAwait(false))!;

    private async Task<T?> SendAsync<T>(HttpMethod method, string path, string? token, object? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, new Uri(baseAddress, path));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (body is not null)
        {
            // Serialized up front so the request carries a Content-Length: JsonContent streams, which over HTTP/1.1
            // means chunked encoding, a costlier body for the server to read on every refresh of a reconnect storm.
            request.Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, body.GetType(), Json))
            {
                Headers = { ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" } },
            };
        }

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new CimApiException(0, "Unreachable", e.Message, e);
        }
        catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new CimApiException(0, "Timeout", "The route API did not answer in time.", e);
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw await ToExceptionAsync(response, ct).ConfigureAwait(false);
            }

            if (typeof(T) == typeof(object) || response.StatusCode == HttpStatusCode.NoContent)
            {
                return default;
            }

            try
            {
                return await response.Content.ReadFromJsonAsync<T>(Json, ct).ConfigureAwait(false)
                    ?? throw new CimApiException((int)response.StatusCode, "Empty response", $"{method} {path} returned no body.");
            }
            catch (JsonException e)
            {
                throw new CimApiException((int)response.StatusCode, "Malformed response", e.Message, e);
            }
        }
    }

    private static async Task<CimApiException> ToExceptionAsync(HttpResponseMessage response, CancellationToken ct)
    {
        string? title = response.ReasonPhrase;
        string? detail = null;
        try
        {
            var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
            if (!string.IsNullOrWhiteSpace(text))
            {
                using var doc = JsonDocument.Parse(text);
                if (doc.RootElement.ValueKind == JsonValueKind.Object)
                {
                    title = ReadString(doc.RootElement, "title") ?? title;
                    detail = ReadString(doc.RootElement, "detail") ?? ReadErrors(doc.RootElement);
                }
            }
        }
        catch (JsonException)
        {
            // Not a problem document: the status code and reason phrase are all there is.
        }

        return new CimApiException((int)response.StatusCode, title, detail);
    }

    private static string? ReadString(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    // Validation problems carry their messages in "errors": { field: [messages] }.
    private static string? ReadErrors(JsonElement element)
    {
        if (!element.TryGetProperty("errors", out var errors) || errors.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var parts = new List<string>();
        foreach (var field in errors.EnumerateObject())
        {
            if (field.Value.ValueKind == JsonValueKind.Array)
            {
                parts.AddRange(field.Value.EnumerateArray().Where(v => v.ValueKind == JsonValueKind.String).Select(v => v.GetString()!));
            }
        }

        return parts.Count == 0 ? null : string.Join(" ", parts);
    }
}
