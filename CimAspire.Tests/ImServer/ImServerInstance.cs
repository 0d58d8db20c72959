using CimAspire.Delivery;
using CimAspire.ImServer;
using CimAspire.ImServer.Sessions;
using CimAspire.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace CimAspire.Tests.ImServer;

/// <summary>An IM server running in this process (a real WebApplication on free ports) against a test Redis.</summary>
public sealed class ImServerInstance : IAsyncDisposable
{
    public const string TokenKey = "test-token-key-0123456789abcdef";

    private readonly WebApplication _app;

    private ImServerInstance(WebApplication app)
    {
        _app = app;
        Identity = app.Services.GetRequiredService<ServerIdentity>();
    }

    public ServerIdentity Identity { get; }

    public string Id => Identity.Id;

    public int Port => Identity.Port;

    public IServiceProvider Services => _app.Services;

    public SessionRegistry Sessions => _app.Services.GetRequiredService<SessionRegistry>();

    /// <summary>Builds (does not start) a server; tests of the pipeline use its services without a listener.</summary>
    public static WebApplication Build(string redisConnectionString, IDictionary<string, string?>? settings = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Development" });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var config = new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = redisConnectionString,
            ["Cim:TokenKey"] = TokenKey,
            ["Cim:ImServer:Id"] = $"im-test-{Guid.NewGuid():N}",
            ["Cim:ImServer:BindAddress"] = "127.0.0.1",
            ["Cim:ImServer:Port"] = "0",
            ["Cim:ImServer:WorkerThreads"] = "2",
            ["Cim:ImServer:DrainTimeout"] = "00:00:03",
            ["Cim:Delivery:RedeliveryTimeout"] = "00:00:01",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            config[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(config);
        builder.AddServiceDefaults();
        builder.AddApplicationServices();
        var app = builder.Build();
        app.MapDefaultEndpoints();
        return app;
    }

    public static async Task<ImServerInstance> StartAsync(string redisConnectionString, IDictionary<string, string?>? settings = null)
    {
        var app = Build(redisConnectionString, settings);
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return new ImServerInstance(app);
    }

    public string IssueToken(long userId, TimeSpan? lifetime = null, string? serverId = null)
        => Tokens.Issue(userId, serverId ?? Id, lifetime);

    public async Task StopAsync() => await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            await _app.DisposeAsync();
        }
    }
}

public static class Tokens
{
    private static readonly AccessTokenCodec Codec = new(ImServerInstance.TokenKey);

    public static string Issue(long userId, string serverId, TimeSpan? lifetime = null)
        => Codec.Issue(new AccessTokenClaims(
            userId, $"user{userId}", serverId, Guid.NewGuid().ToString("N"),
            DateTimeOffset.UtcNow.Add(lifetime ?? TimeSpan.FromHours(1)).ToUnixTimeSeconds()));

    /// <summary>Creates the account record the route API would have written, so the user can receive messages.</summary>
    public static async Task CreateUserAsync(IConnectionMultiplexer redis, long userId)
        => await redis.GetDatabase().HashSetAsync(RedisKeys.User(userId), [new HashEntry("name", $"user{userId}")]);

    /// <summary>A fresh user id with its account record.</summary>
    public static async Task<long> NewUserAsync(IConnectionMultiplexer redis)
    {
        var id = CimAspire.Tests.Delivery.RedisFixture.NewUserId();
        await CreateUserAsync(redis, id).WaitAsync(TestClient.Timeout);
        return id;
    }
}
