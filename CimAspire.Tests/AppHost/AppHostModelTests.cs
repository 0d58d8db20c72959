using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using CimAspire.AppHost.Redis;
using CimAspire.AppHost.ZooKeeper;

namespace CimAspire.Tests.AppHost;

/// <summary>The AppHost's wiring, checked on the model alone: nothing is started.</summary>
public sealed class AppHostModelTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task LocalModeRunsRedisAndZooKeeperAsExecutablesOnUnproxiedTcpEndpoints()
    {
        await using var builder = await CreateBuilderAsync("local");

        var zookeeper = Assert.IsType<ZooKeeperServerResource>(Resource(builder, "zookeeper"));
        Assert.Equal("java", zookeeper.Command);
        var redis = Assert.IsType<RedisServerResource>(Resource(builder, "redis"));
        Assert.Equal("redis-server", redis.Command);

        foreach (var resource in new IResourceWithEndpoints[] { zookeeper, redis })
        {
            var endpoint = Assert.Single(resource.Annotations.OfType<EndpointAnnotation>());
            Assert.Equal("tcp", endpoint.Name);
            Assert.False(endpoint.IsProxied);
        }

        // The same shape as the containers' connection strings: host:port, nothing else.
        Assert.Matches(@"^127\.0\.0\.1:\{zookeeper\.bindings\.tcp\.port\}$", zookeeper.ConnectionStringExpression.ValueExpression);
        Assert.Matches(@"^127\.0\.0\.1:\{redis\.bindings\.tcp\.port\}$", redis.ConnectionStringExpression.ValueExpression);
    }

    [Fact]
    public async Task ContainerModeRunsTheOfficialImages()
    {
        await using var builder = await CreateBuilderAsync("container");

        var zookeeper = Assert.IsType<ZooKeeperResource>(Resource(builder, "zookeeper"));
        Assert.Equal("zookeeper", zookeeper.Annotations.OfType<ContainerImageAnnotation>().Single().Image);
        Assert.Equal("tcp", Assert.Single(zookeeper.Annotations.OfType<EndpointAnnotation>()).Name);
        var redis = Assert.IsType<RedisResource>(Resource(builder, "redis"));
        Assert.Null(redis.PasswordParameter);
        Assert.Equal("{zookeeper.bindings.tcp.host}:{zookeeper.bindings.tcp.port}", zookeeper.ConnectionStringExpression.ValueExpression);
    }

    [Theory]
    [InlineData("true", typeof(ZooKeeperResource), typeof(RedisResource))]
    [InlineData("cim-no-such-container-runtime", typeof(ZooKeeperServerResource), typeof(RedisServerResource))]
    public async Task AutoModeUsesContainersOnlyWhenTheContainerRuntimeAnswers(string runtime, Type zookeeperType, Type redisType)
    {
        // "true info" exits 0 like a runtime whose daemon answers; a program that does not exist is a machine without one.
        await using var builder = await CreateBuilderAsync("auto", $"--ASPIRE_CONTAINER_RUNTIME={runtime}");

        Assert.IsType(zookeeperType, Resource(builder, "zookeeper"));
        Assert.IsType(redisType, Resource(builder, "redis"));
    }

    [Fact]
    public async Task AnUnknownInfrastructureModeIsRejectedWithTheValidChoices()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => CreateBuilderAsync("kubernetes"));
        var message = error.GetBaseException().Message;
        Assert.Contains("kubernetes", message);
        Assert.Contains("auto, container, local", message);
    }

    [Fact]
    public async Task LocalModeWithoutZooKeeperInstalledFailsAtStartupNamingTheInstallCommand()
    {
        await using var builder = await CreateBuilderAsync("local", "--Cim:ZooKeeper:ClassPath=/nonexistent/zookeeper.jar");
        await using var app = await builder.BuildAsync().WaitAsync(Timeout);

        var error = await Assert.ThrowsAnyAsync<Exception>(() => app.StartAsync().WaitAsync(Timeout));

        var message = error.GetBaseException().Message;
        Assert.Contains("/nonexistent/zookeeper.jar", message);
        Assert.Contains("sudo apt-get install -y redis-server zookeeper", message);
    }

    [Theory]
    [InlineData("local")]
    [InlineData("container")]
    public async Task EveryResourceHasAHealthCheck(string mode)
    {
        await using var builder = await CreateBuilderAsync(mode);

        foreach (var name in new[] { "zookeeper", "redis", "im-server", "route-api", "web-client" })
        {
            Assert.True(Resource(builder, name).Annotations.OfType<HealthCheckAnnotation>().Any(), $"{name} has no health check.");
        }
    }

    [Fact]
    public async Task ServicesReferenceAndWaitForWhatTheyUse()
    {
        await using var builder = await CreateBuilderAsync("local");

        AssertReferencesAndWaits(builder, "im-server", references: ["redis", "zookeeper"], waits: ["redis", "zookeeper"]);
        AssertReferencesAndWaits(builder, "route-api", references: ["redis", "zookeeper"], waits: ["redis", "zookeeper", "im-server"]);
        AssertReferencesAndWaits(builder, "web-client", references: ["route-api"], waits: ["route-api"]);

        var webEndpoint = Resource(builder, "web-client").Annotations.OfType<EndpointAnnotation>().Single(e => e.UriScheme == "http");
        Assert.True(webEndpoint.IsExternal);
    }

    [Fact]
    public async Task ReplicaCountsComeFromConfigurationWithDefaultsOfTwo()
    {
        await using (var defaults = await CreateBuilderAsync("local"))
        {
            Assert.Equal(2, Resource(defaults, "im-server").GetReplicaCount());
            Assert.Equal(2, Resource(defaults, "route-api").GetReplicaCount());
        }

        await using var configured = await CreateBuilderAsync("local", "--Cim:ImServerReplicas=3", "--Cim:RouteReplicas=1");
        Assert.Equal(3, Resource(configured, "im-server").GetReplicaCount());
        Assert.Equal(1, Resource(configured, "route-api").GetReplicaCount());
    }

    [Fact]
    public async Task ServicesGetTheSecretKeysAndImServersBindAPortOfTheirOwn()
    {
        await using var builder = await CreateBuilderAsync("local");

        Assert.True(Assert.IsType<ParameterResource>(Resource(builder, "token-key")).Secret);
        Assert.True(Assert.IsType<ParameterResource>(Resource(builder, "admin-key")).Secret);

        var tokenKey = Resource(builder, "token-key");
        var adminKey = Resource(builder, "admin-key");
        var imServer = await EnvironmentOfAsync(Resource(builder, "im-server"));
        Assert.Equal("0", imServer["Cim__ImServer__Port"]);
        Assert.Same(tokenKey, imServer["Cim__TokenKey"]);
        Assert.Same(adminKey, imServer["Cim__AdminKey"]);
        Assert.Contains("ConnectionStrings__redis", imServer.Keys);
        Assert.Contains("ConnectionStrings__zookeeper", imServer.Keys);

        var routeApi = await EnvironmentOfAsync(Resource(builder, "route-api"));
        Assert.Same(tokenKey, routeApi["Cim__TokenKey"]);
        Assert.Same(adminKey, routeApi["Cim__AdminKey"]);

        // No endpoint of the IM server is a TCP proxy: each replica's IM port is its own, found through ZooKeeper.
        Assert.DoesNotContain(Resource(builder, "im-server").Annotations.OfType<EndpointAnnotation>(), e => e.UriScheme == "tcp");
    }

    [Fact]
    public async Task ServiceSettingsGivenToTheAppHostReachEachServiceAsEnvironment()
    {
        await using var builder = await CreateBuilderAsync(
            "local", "--Cim:ImServer:IdleTimeout=00:00:20", "--Cim:ImServer:MaxPendingOutboundBytes=65536", "--Cim:Route:Strategy=RoundRobin",
            "--Cim:Delivery:PresenceBroadcastMaxOnline=5000");

        var imServer = await EnvironmentOfAsync(Resource(builder, "im-server"));
        Assert.Equal("00:00:20", imServer["Cim__ImServer__IdleTimeout"]);
        Assert.Equal("65536", imServer["Cim__ImServer__MaxPendingOutboundBytes"]);
        Assert.Equal("0", imServer["Cim__ImServer__Port"]);
        Assert.DoesNotContain("Cim__Route__Strategy", imServer.Keys);
        Assert.Equal("5000", imServer["Cim__Delivery__PresenceBroadcastMaxOnline"]);

        var routeApi = await EnvironmentOfAsync(Resource(builder, "route-api"));
        Assert.Equal("RoundRobin", routeApi["Cim__Route__Strategy"]);
        Assert.DoesNotContain("Cim__ImServer__IdleTimeout", routeApi.Keys);
        Assert.Equal("5000", routeApi["Cim__Delivery__PresenceBroadcastMaxOnline"]);
    }

    private static Task<IDistributedApplicationTestingBuilder> CreateBuilderAsync(string mode, params string[] args) =>
        DistributedApplicationTestingBuilder.CreateAsync<Projects.CimAspire_AppHost>([$"--Cim:Infrastructure={mode}", .. args])
            .WaitAsync(Timeout);

    private static IResource Resource(IDistributedApplicationTestingBuilder builder, string name) =>
        Assert.Single(builder.Resources, resource => resource.Name == name);

    private static void AssertReferencesAndWaits(IDistributedApplicationTestingBuilder builder, string name, string[] references, string[] waits)
    {
        var resource = Resource(builder, name);
        var referenced = resource.Annotations.OfType<ResourceRelationshipAnnotation>()
            .Where(r => r.Type == "Reference").Select(r => r.Resource.Name).ToHashSet();
        Assert.Superset(references.ToHashSet(), referenced);
        Assert.Equal(
            waits.Order(),
            resource.Annotations.OfType<WaitAnnotation>().Select(w => w.Resource.Name).Distinct().Order());
    }

    /// <summary>The environment a resource would get, unevaluated: parameters and references stay objects, literals stay strings.</summary>
    private static async Task<Dictionary<string, object>> EnvironmentOfAsync(IResource resource)
    {
        var context = new EnvironmentCallbackContext(new DistributedApplicationExecutionContext(DistributedApplicationOperation.Publish), resource, []);
        foreach (var callback in resource.Annotations.OfType<EnvironmentCallbackAnnotation>())
        {
            await callback.Callback(context).WaitAsync(Timeout);
        }

        return context.EnvironmentVariables;
    }
}
