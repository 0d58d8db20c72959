using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using CimAspire.ZooKeeper;
using CimAspire.ZooKeeper.Registry;
using Xunit.Abstractions;
using Aspire.Hosting.ApplicationModel;

namespace CimAspire.Tests.Cluster;

[Collection("cluster")]
public sealed class ClusterTests(ClusterFixture cluster, ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public void EveryResourceAndEveryReplicaIsRunningAndHealthy()
    {
        output.WriteLine($"Cluster healthy {cluster.StartupTime.TotalSeconds:F1} s after the build started; redis={cluster.RedisConnectionString} zookeeper={cluster.ZooKeeperConnectionString}");
        output.WriteLine(string.Join(", ", cluster.GetImServerReplicas()));
        foreach (var name in ClusterFixture.ResourceNames)
        {
            var states = cluster.GetStates(name);
            Assert.Equal(cluster.GetResource(name).GetReplicaCount(), states.Count);
            Assert.All(states, state => Assert.True(
                ClusterFixture.IsHealthy(state.Snapshot),
                $"{state.ResourceId} is {state.Snapshot.State?.Text}/{state.Snapshot.HealthStatus}"));
        }

        Assert.Equal(ClusterFixture.ImServerReplicas, cluster.GetImServerReplicas().Count);
        Assert.Equal(ClusterFixture.RouteReplicas, cluster.GetReplicas("route-api").Count);
    }

    [Fact]
    public async Task RedisAnswersWithAppendOnlyPersistenceInTheRunsOwnFolder()
    {
        Assert.Matches(@"^127\.0\.0\.1:\d+$", cluster.RedisConnectionString);
        Assert.Equal("+PONG\r\n", await TcpText.SendAsync(cluster.RedisConnectionString, "PING\r\n", readToEnd: false));

        var appendOnly = await ConfigGetAsync("appendonly");
        Assert.Equal("yes", appendOnly);
        Assert.Equal("always", await ConfigGetAsync("appendfsync"));
        Assert.Equal(
            Path.GetFullPath(Path.Combine(cluster.DataDirectory, "redis")),
            Path.GetFullPath(await ConfigGetAsync("dir")));
    }

    [Fact]
    public async Task ZooKeeperAnswersRuokAndServesStandalone()
    {
        Assert.Matches(@"^127\.0\.0\.1:\d+$", cluster.ZooKeeperConnectionString);
        Assert.Equal("imok", await TcpText.SendAsync(cluster.ZooKeeperConnectionString, "ruok", readToEnd: true));

        var srvr = await TcpText.SendAsync(cluster.ZooKeeperConnectionString, "srvr", readToEnd: true);
        Assert.Contains("Mode: standalone", srvr);
        Assert.True(File.Exists(Path.Combine(cluster.DataDirectory, "zookeeper", "zoo.cfg")), "ZooKeeper's config is not in the run's folder.");
    }

    [Fact]
    public async Task RouteApiAnswersHealth()
    {
        using var client = cluster.CreateRouteClient();
        using var response = await client.GetAsync("/health").WaitAsync(Timeout);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync().WaitAsync(Timeout));
    }

    [Fact]
    public async Task WebClientServesItsPage()
    {
        using var client = cluster.CreateWebClient();
        using var response = await client.GetAsync("/").WaitAsync(Timeout);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("CimAspire", await response.Content.ReadAsStringAsync().WaitAsync(Timeout));
    }

    [Fact]
    public async Task EachImServerReplicaRegistersItsOwnPortInZooKeeperAndAcceptsTcpConnectionsThere()
    {
        await using var zookeeper = new ZooKeeperClient(new ZooKeeperClientOptions { ConnectionString = cluster.ZooKeeperConnectionString });
        await zookeeper.ConnectAsync().WaitAsync(Timeout);

        // A replica registers right after it binds, which may be after Aspire saw /health; a replica killed by another
        // test leaves its node until its session expires, so only registrations of live processes count.
        var live = await RegistrationsOfLiveProcessesAsync(zookeeper, ClusterFixture.ImServerReplicas).WaitAsync(Timeout);

        Assert.Equal(ClusterFixture.ImServerReplicas, live.Select(r => r.Port).Distinct().Count());
        foreach (var registration in live)
        {
            using var client = new TcpClient();
            await client.ConnectAsync(registration.Host, registration.Port).WaitAsync(Timeout);
            Assert.True(client.Connected, $"{registration.Id} at {registration.Host}:{registration.Port} refused the connection.");
        }
    }

    [Fact]
    public async Task AKilledImServerReplicaStaysDownUntilStartedAgainThenIsHealthy()
    {
        var victim = cluster.GetImServerReplicas()[0];
        var survivor = cluster.GetImServerReplicas()[1];

        await cluster.KillReplicaAsync(victim.ResourceName);

        Assert.DoesNotContain(cluster.GetImServerReplicas(), replica => replica.ResourceName == victim.ResourceName);
        Assert.Throws<ArgumentException>(() => System.Diagnostics.Process.GetProcessById(victim.ProcessId));
        Assert.Contains(cluster.GetImServerReplicas(), replica => replica == survivor);

        await cluster.StartReplicaAsync(victim.ResourceName);

        var restarted = Assert.Single(cluster.GetImServerReplicas(), replica => replica.ResourceName == victim.ResourceName);
        Assert.NotEqual(victim.ProcessId, restarted.ProcessId);
        await cluster.WaitUntilHealthyAsync("im-server").WaitAsync(ClusterFixture.ReplicaTimeout);
    }

    private static async Task<IReadOnlyList<ServerRegistration>> RegistrationsOfLiveProcessesAsync(ZooKeeperClient zookeeper, int expected)
    {
        while (true)
        {
            var live = new List<ServerRegistration>();
            var children = await zookeeper.ExistsAsync("/cim/servers") is null ? [] : await zookeeper.GetChildrenAsync("/cim/servers");
            foreach (var child in children)
            {
                try
                {
                    var node = await zookeeper.GetDataAsync($"/cim/servers/{child}");
                    if (JsonSerializer.Deserialize<ServerRegistration>(node.Data) is { } registration && IsAlive(registration.ProcessId))
                    {
                        live.Add(registration);
                    }
                }
                catch (ZooKeeperException e) when (e.Code == ZooKeeperErrorCode.NoNode)
                {
                    // Gone between the listing and the read: its session ended.
                }
            }

            if (live.Count == expected)
            {
                return live;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200));
        }

        static bool IsAlive(int pid)
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                return !process.HasExited;
            }
            catch (ArgumentException)
            {
                return false;
            }
        }
    }

    private async Task<string> ConfigGetAsync(string parameter)
    {
        // An inline command answers with a RESP array: *2, the name, the value.
        var answer = await TcpText.SendAsync(
            cluster.RedisConnectionString,
            $"CONFIG GET {parameter}\r\n",
            readToEnd: false,
            complete: text => text.Split("\r\n").Length >= 6);
        var lines = answer.Split("\r\n");
        Assert.Equal("*2", lines[0]);
        return lines[4];
    }
}
