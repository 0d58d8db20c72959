using CimAspire.Route.Extensions;
using CimAspire.Route.Selection;
using CimAspire.ZooKeeper.Registry;
using Microsoft.Extensions.Options;

namespace CimAspire.Tests.Route;

/// <summary>The selection strategies on their own, without HTTP or sockets.</summary>
public class ServerSelectionTests
{
    private const int Users = 10_000;
    private const double Tolerance = 0.15;
    private static readonly HashSet<string> None = [];

    private static List<ServerRegistration> Servers(int count, string prefix = "im-") =>
        [.. Enumerable.Range(1, count).Select(i => TestServerDirectory.Registration($"{prefix}{i}", 9000 + i))];

    private static ConsistentHashStrategy ConsistentHash() => new(Options.Create(new RouteApiOptions()));

    private static async Task<Dictionary<string, int>> DistributeAsync(IServerSelectionStrategy strategy, List<ServerRegistration> servers)
    {
        var counts = servers.ToDictionary(s => s.Id, _ => 0);
        for (long user = 1; user <= Users; user++)
        {
            var picked = await strategy.PickAsync(servers, user, None, CancellationToken.None);
            counts[picked!.Id]++;
        }

        return counts;
    }

    private static void AssertEven(Dictionary<string, int> counts)
    {
        var even = (double)Users / counts.Count;
        foreach (var (server, count) in counts)
        {
            Assert.True(Math.Abs(count - even) <= even * Tolerance,
                $"{server} got {count} of {Users} users; an even share is {even:F0} ±{Tolerance:P0}. All: {string.Join(", ", counts)}");
        }
    }

    [Theory]
    [InlineData(2, "im-")]
    [InlineData(3, "im-")]
    [InlineData(4, "im-")]
    [InlineData(2, "server-a7f3-")]
    [InlineData(3, "server-a7f3-")]
    [InlineData(4, "server-a7f3-")]
    [InlineData(8, "im-")]
    public async Task ConsistentHashWithTheDefaultPointsSpreadsUsersWithinFifteenPercentOfAnEvenShare(int serverCount, string prefix)
    {
        AssertEven(await DistributeAsync(ConsistentHash(), Servers(serverCount, prefix)));
    }

    [Fact]
    public async Task ConsistentHashIsTheSameInEveryReplicaAndMovesOnlyTheUsersOfARemovedServer()
    {
        var four = Servers(4);
        var replicaA = ConsistentHash();
        var replicaB = ConsistentHash();
        var afterRemoval = ConsistentHash();
        var three = four.Where(s => s.Id != "im-2").ToList();
        var moved = 0;
        for (long user = 1; user <= 2_000; user++)
        {
            var a = await replicaA.PickAsync(four, user, None, CancellationToken.None);
            var b = await replicaB.PickAsync(four, user, None, CancellationToken.None);
            Assert.Equal(a!.Id, b!.Id);

            var after = await afterRemoval.PickAsync(three, user, None, CancellationToken.None);
            if (a.Id != "im-2")
            {
                Assert.Equal(a.Id, after!.Id);
            }
            else
            {
                moved++;
                Assert.NotEqual("im-2", after!.Id);
            }
        }

        Assert.InRange(moved, 1, 2_000);
    }

    [Fact]
    public async Task ConsistentHashWithAnExcludedServerPicksWhatTheRingWithoutItWouldPick()
    {
        var four = Servers(4);
        var three = four.Where(s => s.Id != "im-3").ToList();
        var strategy = ConsistentHash();
        var reference = ConsistentHash();
        for (long user = 1; user <= 1_000; user++)
        {
            var excluded = await strategy.PickAsync(four, user, new HashSet<string> { "im-3" }, CancellationToken.None);
            var without = await reference.PickAsync(three, user, None, CancellationToken.None);
            Assert.Equal(without!.Id, excluded!.Id);
        }
    }

    [Fact]
    public async Task EveryStrategyReturnsNullWhenEveryServerIsExcluded()
    {
        var servers = Servers(2);
        var all = servers.Select(s => s.Id).ToHashSet();
        IServerSelectionStrategy[] strategies =
            [ConsistentHash(), new RoundRobinStrategy(), new RandomStrategy(), new LeastConnectionsStrategy(new FixedLoad([]))];
        foreach (var strategy in strategies)
        {
            Assert.Null(await strategy.PickAsync(servers, 7, all, CancellationToken.None));
            Assert.Null(await strategy.PickAsync([], 7, None, CancellationToken.None));
        }
    }

    [Fact]
    public async Task RoundRobinTakesTurnsExactly()
    {
        var servers = Servers(3);
        var strategy = new RoundRobinStrategy();
        var picks = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            picks.Add((await strategy.PickAsync(servers, 42, None, CancellationToken.None))!.Id);
        }

        Assert.Equal(["im-1", "im-2", "im-3", "im-1", "im-2", "im-3"], picks);
        AssertEven(await DistributeAsync(new RoundRobinStrategy(), Servers(4)));
    }

    [Fact]
    public async Task RandomSpreadsUsersWithinFifteenPercentOfAnEvenShare()
    {
        // 10,000 draws over 3 servers: 15% of a share is about 9 standard deviations, so this does not flake.
        var counts = await DistributeAsync(new RandomStrategy(), Servers(3));
        AssertEven(counts);
        var excluded = await new RandomStrategy().PickAsync(Servers(3), 1, new HashSet<string> { "im-1", "im-2" }, CancellationToken.None);
        Assert.Equal("im-3", excluded!.Id);
    }

    [Fact]
    public async Task LeastConnectionsPicksTheLeastLoadedAndCountsItsOwnRecentPicks()
    {
        var servers = Servers(3);
        var load = new FixedLoad(new() { ["im-1"] = 10, ["im-2"] = 4, ["im-3"] = 7 });
        var strategy = new LeastConnectionsStrategy(load);

        // im-2 (4) takes the first three users, then im-2 (7 with its three new users) and im-3 (7) share.
        var picks = new List<string>();
        for (long user = 1; user <= 3; user++)
        {
            picks.Add((await strategy.PickAsync(servers, user, None, CancellationToken.None))!.Id);
        }

        Assert.Equal(["im-2", "im-2", "im-2"], picks);
        var next = new List<string>();
        for (long user = 4; user <= 9; user++)
        {
            next.Add((await strategy.PickAsync(servers, user, None, CancellationToken.None))!.Id);
        }

        Assert.Equal(3, next.Count(id => id == "im-2"));
        Assert.Equal(3, next.Count(id => id == "im-3"));

        // A new report replaces what this replica counted itself.
        load.Connections["im-1"] = 0;
        Assert.Equal("im-1", (await strategy.PickAsync(servers, 100, None, CancellationToken.None))!.Id);
        Assert.Equal("im-3", (await strategy.PickAsync(servers, 101, new HashSet<string> { "im-1", "im-2" }, CancellationToken.None))!.Id);
    }

    [Fact]
    public async Task LeastConnectionsSpreadsABurstOverEquallyLoadedServers()
    {
        AssertEven(await DistributeAsync(new LeastConnectionsStrategy(new FixedLoad([])), Servers(4)));
    }

    private sealed class FixedLoad(Dictionary<string, long> connections) : IServerLoadSource
    {
        public Dictionary<string, long> Connections { get; } = connections;

        public Task<IReadOnlyDictionary<string, long>> GetConnectionsAsync(CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyDictionary<string, long>>(new Dictionary<string, long>(Connections));
    }
}
