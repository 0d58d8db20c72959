using System.Net;
using System.Text;
using CimAspire.Client;
using CimAspire.WebClient.Chat;

namespace CimAspire.Tests.Web;

/// <summary>The SDK adapter turns the route API's refusals into messages a person can act on.</summary>
public sealed class CimChatConnectionTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_refusal_with_problem_details_keeps_the_status_and_the_detail()
    {
        await using var connection = Create(_ => Problem(HttpStatusCode.Conflict, "Conflict", "The user name 'ann' is taken."));

        var error = await Assert.ThrowsAsync<ChatRequestException>(() => connection.RegisterAsync("ann", "secret-pass").WaitAsync(Timeout));

        Assert.Equal(409, error.StatusCode);
        Assert.Equal("The user name 'ann' is taken.", error.Message);
        Assert.IsType<CimApiException>(error.InnerException);
    }

    [Fact]
    public async Task A_refusal_without_detail_falls_back_to_the_title()
    {
        await using var connection = Create(_ => Problem(HttpStatusCode.Unauthorized, "Wrong user name or password", null));

        var error = await Assert.ThrowsAsync<ChatRequestException>(() => connection.LoginAsync("ann", "nope").WaitAsync(Timeout));

        Assert.Equal(401, error.StatusCode);
        Assert.Equal("Wrong user name or password", error.Message);
    }

    [Fact]
    public async Task An_unreachable_route_api_says_so_without_a_status()
    {
        await using var connection = Create(_ => throw new HttpRequestException("Connection refused"));

        var error = await Assert.ThrowsAsync<ChatRequestException>(() => connection.RegisterAsync("ann", "secret-pass").WaitAsync(Timeout));

        Assert.Null(error.StatusCode);
        Assert.Contains("cannot be reached", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Before_login_the_connection_is_offline_with_no_user()
    {
        await using var connection = Create(_ => Problem(HttpStatusCode.NotFound, "Not found", null));

        Assert.Equal(ChatConnectionState.Offline, connection.State);
        Assert.Equal(0, connection.UserId);
        Assert.Null(connection.ServerId);
    }

    private static CimChatConnection Create(Func<HttpRequestMessage, HttpResponseMessage> respond)
    {
        var http = new HttpClient(new Handler(respond));
        return new CimChatConnection(new CimClient(new CimClientOptions { RouteApi = new Uri("http://route-api.test/") }, http));
    }

    private static HttpResponseMessage Problem(HttpStatusCode status, string title, string? detail)
    {
        var json = detail is null
            ? $$"""{"status":{{(int)status}},"title":"{{title}}"}"""
            : $$"""{"status":{{(int)status}},"title":"{{title}}","detail":"{{detail}}"}""";
        return new HttpResponseMessage(status) { Content = new StringContent(json, Encoding.UTF8, "application/problem+json") };
    }

    private sealed class Handler(Func<HttpRequestMessage, HttpResponseMessage> respond) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(respond(request));
    }
}
