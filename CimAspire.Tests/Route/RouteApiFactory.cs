using CimAspire.Route.Extensions;
using CimAspire.Tests.Infrastructure;
using CimAspire.ZooKeeper.Registry;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace CimAspire.Tests.Route;

/// <summary>
/// The route API in-process against a real redis-server, with a server directory the test feeds.
/// Extra settings (strategy, rate limits) make a separate app on the same Redis.
/// </summary>
public sealed class RouteApiFactory(RedisProcess redis, TestServerDirectory directory, IReadOnlyDictionary<string, string?> settings)
    : WebApplicationFactory<CimSecretsOptions> // any type of the route API assembly: every service has a Program
{
    public const string TokenKey = "test-token-key-0123456789abcdef";
    public const string AdminKey = "test-admin-key-0123456789abcdef";

    public TestServerDirectory Directory => directory;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        builder.UseSetting("ConnectionStrings:redis", redis.ConnectionString);
        // The test feeds the server directory itself; the ZooKeeper client points at a port where nothing listens.
        builder.UseSetting("ConnectionStrings:zookeeper", $"127.0.0.1:{TestPorts.GetFreePort()}");
        builder.UseSetting("Cim:TokenKey", TokenKey);
        builder.UseSetting("Cim:AdminKey", AdminKey);
        // Fewer PBKDF2 rounds keep the suite fast on a shared machine; the code path is the production one.
        builder.UseSetting("Cim:Route:PasswordHashIterations", "1000");
        builder.UseSetting("Cim:Route:RegisterRateLimit:PermitLimit", "100000");
        builder.UseSetting("Cim:Route:LoginRateLimit:PermitLimit", "100000");
        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureServices(services =>
        {
            services.RemoveAll<IServerDirectory>();
            services.AddSingleton<IServerDirectory>(directory);
        });
    }
}

/// <summary>One redis-server and one route API shared by the route test classes; each test uses its own user names.</summary>
public sealed class RouteApiFixture : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];

    public RedisProcess Redis { get; private set; } = null!;

    public RouteApiFactory Api { get; private set; } = null!;

    public TestServerDirectory Directory { get; } = new();

    public FakeImServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Redis = await RedisProcess.StartAsync();
        Server = new FakeImServer("im-shared");
        Directory.Set(Server.Registration);
        Api = new RouteApiFactory(Redis, Directory, new Dictionary<string, string?>());
    }

    /// <summary>Another route API app on the same Redis with its own settings and server directory; disposed with the fixture.</summary>
    public RouteApiFactory CreateApi(TestServerDirectory directory, IReadOnlyDictionary<string, string?> settings)
    {
        var api = new RouteApiFactory(Redis, directory, settings);
        _owned.Add(api);
        return api;
    }

    public async Task DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }

        await Api.DisposeAsync();
        await Server.DisposeAsync();
        await Redis.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class RouteApiCollection : ICollectionFixture<RouteApiFixture>
{
    public const string Name = "route-api";
}
