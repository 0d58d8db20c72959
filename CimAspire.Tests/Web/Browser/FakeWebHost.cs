using System.Collections.Concurrent;
using CimAspire.WebClient.Chat;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Playwright;

namespace CimAspire.Tests.Web.Browser;

/// <summary>
/// The real web client on a free port, with its IM sessions replaced by <see cref="FakeChatConnection"/>s, and a
/// headless Chromium: tests of what only a browser shows (scripts, layout) without the rest of the system.
/// </summary>
public sealed class FakeWebHost : IAsyncLifetime
{
    private readonly WebApplicationFactory<ChatSession> _factory;
    private IPlaywright? _playwright;

    public FakeWebHost()
    {
        _factory = new WebApplicationFactory<ChatSession>().WithWebHostBuilder(builder =>
        {
            builder.UseEnvironment("Development");
            builder.ConfigureServices(services =>
            {
                services.RemoveAll<IChatConnectionFactory>();
                services.AddSingleton<IChatConnectionFactory>(new QueueFactory(this));
            });
        });
        _factory.UseKestrel(0);
    }

    /// <summary>Connections handed out to the next sign-ins, in order.</summary>
    internal ConcurrentQueue<FakeChatConnection> NextConnections { get; } = new();

    public string BaseUrl { get; private set; } = "";

    public IBrowser Browser { get; private set; } = default!;

    public async Task InitializeAsync()
    {
        _factory.StartServer();
        BaseUrl = _factory.ClientOptions.BaseAddress.ToString();
        (_playwright, Browser) = await Chromium.LaunchAsync();
    }

    public async Task DisposeAsync()
    {
        if (_playwright is not null)
        {
            await Browser.DisposeAsync();
            _playwright.Dispose();
        }

        await _factory.DisposeAsync();
    }

    private sealed class QueueFactory(FakeWebHost host) : IChatConnectionFactory
    {
        public IChatConnection Create() =>
            host.NextConnections.TryDequeue(out var connection) ? connection : throw new InvalidOperationException("The test prepared no connection.");
    }
}
