using CimAspire.Delivery;
using CimAspire.Delivery.Presence;
using CimAspire.Delivery.Routes;
using CimAspire.Protocol;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace CimAspire.Tests.Delivery;

public sealed class PresenceNotifierTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private PresenceNotifier CreateNotifier(int maxOnline = 1_000_000, TimeSpan? interval = null) => new(
        fixture.CreateRouteStore(),
        fixture.CreateInbox(),
        Options.Create(new DeliveryOptions { PresenceBroadcastMaxOnline = maxOnline, PresenceFlushInterval = interval ?? TimeSpan.FromMilliseconds(200) }),
        TimeProvider.System,
        NullLogger<PresenceNotifier>.Instance);

    [Fact]
    public async Task AWindowIsCoalescedPerUserAndGoesToEveryLiveServerAsOneBatchThatLeavesTheUserOut()
    {
        var routes = fixture.CreateRouteStore();
        await using var one = await ServerListener.StartAsync(fixture);
        await using var two = await ServerListener.StartAsync(fixture);
        long cameOnline = RedisFixture.NewUserId(), flapOff = RedisFixture.NewUserId(), flapOn = RedisFixture.NewUserId(), wentOffline = RedisFixture.NewUserId();
        await routes.ClaimAsync(cameOnline, one.ServerId, RouteClaimMode.Shared).WaitAsync(Timeout);
        await routes.ClaimAsync(flapOn, two.ServerId, RouteClaimMode.Shared).WaitAsync(Timeout);
        var notifier = CreateNotifier();

        notifier.Enqueue(cameOnline, "old name", online: true);
        notifier.Enqueue(cameOnline, "carol", online: true);
        // Came online and left within the window: the others never saw them online, so nothing is said.
        notifier.Enqueue(flapOff, "dave", online: true);
        notifier.Enqueue(flapOff, "dave", online: false);
        // A reconnect within the window ends where it started (online): nothing is said either.
        notifier.Enqueue(flapOn, "erin", online: false);
        notifier.Enqueue(flapOn, "erin", online: true);
        notifier.Enqueue(wentOffline, "frank", online: false);

        Assert.Equal(2, await notifier.FlushAsync().WaitAsync(Timeout));

        foreach (var server in new[] { one, two })
        {
            var batches = await server.BatchesUntilMarkerAsync();
            var batch = Assert.Single(batches);
            Assert.Equal(
                [(cameOnline, "carol", true), (wentOffline, "frank", false)],
                batch.Items.Select(i => (i.Notice.Presence.UserId, i.Notice.Presence.UserName, i.Notice.Presence.Online)).OrderBy(c => c.UserId != cameOnline));
            Assert.All(batch.Items, item =>
            {
                Assert.True(item.AllUsers);
                Assert.Equal([item.Notice.Presence.UserId], item.ExcludeUserIds);
                Assert.Empty(item.RecipientIds);
            });
        }

        // The window was taken: a second flush has nothing to send.
        Assert.Equal(0, await notifier.FlushAsync().WaitAsync(Timeout));
    }

    [Fact]
    public async Task AChangeThatIsNoLongerTrueIsNotSent()
    {
        var routes = fixture.CreateRouteStore();
        await using var server = await ServerListener.StartAsync(fixture);
        long movedAway = RedisFixture.NewUserId(), movedHere = RedisFixture.NewUserId();
        // Reported offline by the server they left, but another server already holds them again.
        await routes.ClaimAsync(movedAway, server.ServerId, RouteClaimMode.Shared).WaitAsync(Timeout);
        var notifier = CreateNotifier();

        notifier.Enqueue(movedAway, "gina", online: false);
        notifier.Enqueue(movedHere, "hank", online: true);

        Assert.Equal(0, await notifier.FlushAsync().WaitAsync(Timeout));
        Assert.Empty(await server.BatchesUntilMarkerAsync());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task AboveTheOnlineLimitNothingIsPushed(int maxOnline)
    {
        var routes = fixture.CreateRouteStore();
        await using var server = await ServerListener.StartAsync(fixture);
        long first = RedisFixture.NewUserId(), second = RedisFixture.NewUserId();
        await routes.ClaimAsync(first, server.ServerId, RouteClaimMode.Shared).WaitAsync(Timeout);
        await routes.ClaimAsync(second, server.ServerId, RouteClaimMode.Shared).WaitAsync(Timeout);
        Assert.True(await routes.GetOnlineCountAsync().WaitAsync(Timeout) > maxOnline);
        var notifier = CreateNotifier(maxOnline);

        notifier.Enqueue(second, "ivy", online: true);

        Assert.Equal(0, await notifier.FlushAsync().WaitAsync(Timeout));
        Assert.Empty(await server.BatchesUntilMarkerAsync());
    }

    [Fact]
    public async Task TheLoopFlushesByItselfAndStoppingSendsWhatIsLeft()
    {
        var routes = fixture.CreateRouteStore();
        await using var server = await ServerListener.StartAsync(fixture);
        long early = RedisFixture.NewUserId(), late = RedisFixture.NewUserId();
        await routes.ClaimAsync(early, server.ServerId, RouteClaimMode.Shared).WaitAsync(Timeout);
        await routes.ClaimAsync(late, server.ServerId, RouteClaimMode.Shared).WaitAsync(Timeout);
        using var notifier = CreateNotifier(interval: TimeSpan.FromMilliseconds(50));
        await notifier.StartAsync(CancellationToken.None).WaitAsync(Timeout);

        notifier.Enqueue(early, "jack", online: true);
        var delivered = await server.WaitForPresenceAsync(early).WaitAsync(Timeout);
        Assert.Equal(("jack", true), (delivered.UserName, delivered.Online));

        // A long interval: only the final flush at stop can send this one.
        using var slow = CreateNotifier(interval: TimeSpan.FromMinutes(1));
        await slow.StartAsync(CancellationToken.None).WaitAsync(Timeout);
        slow.Enqueue(late, "kim", online: true);
        await slow.StopAsync(CancellationToken.None).WaitAsync(Timeout);
        Assert.Equal("kim", (await server.WaitForPresenceAsync(late).WaitAsync(Timeout)).UserName);
        await notifier.StopAsync(CancellationToken.None).WaitAsync(Timeout);
    }

    /// <summary>A fake IM server: announced in the load hash, listening on its channel.</summary>
    private sealed class ServerListener : IAsyncDisposable
    {
        private readonly Lock _gate = new();
        private readonly List<ServerBatch> _batches = [];
        private readonly RedisFixture _fixture;
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private IAsyncDisposable? _subscription;

        private ServerListener(RedisFixture fixture) => _fixture = fixture;

        public string ServerId { get; } = $"srv-presence-{Guid.NewGuid():N}";

        public static async Task<ServerListener> StartAsync(RedisFixture fixture)
        {
            var listener = new ServerListener(fixture);
            listener._subscription = await fixture.CreateInbox().SubscribeAsync(listener.ServerId, listener.OnBatch).WaitAsync(Timeout);
            await fixture.CreateRouteStore().ReportLoadAsync(listener.ServerId, 1).WaitAsync(Timeout);
            return listener;
        }

        /// <summary>
        /// Publishes a marker on the channel and returns the batches that came before it: a channel keeps publish order,
        /// so this tells exactly what was sent, without waiting for a time.
        /// </summary>
        public async Task<IReadOnlyList<ServerBatch>> BatchesUntilMarkerAsync()
        {
            var marker = new ServerBatch { Items = { new ServerDelivery { Kick = new Kick { Message = "marker" } } } };
            await _fixture.CreateInbox().PublishAsync(ServerId, marker).WaitAsync(Timeout);
            var deadline = DateTime.UtcNow + Timeout;
            while (true)
            {
                Task changed;
                lock (_gate)
                {
                    var at = _batches.FindIndex(b => b.Items.Count == 1 && b.Items[0].Kick?.Message == "marker");
                    if (at >= 0)
                    {
                        var before = _batches.Take(at).ToList();
                        _batches.RemoveRange(0, at + 1);
                        return before;
                    }

                    changed = _changed.Task;
                }

                await changed.WaitAsync(deadline - DateTime.UtcNow);
            }
        }

        public async Task<PresenceChange> WaitForPresenceAsync(long userId)
        {
            while (true)
            {
                Task changed;
                lock (_gate)
                {
                    var found = _batches.SelectMany(b => b.Items)
                        .FirstOrDefault(i => i.Notice?.Presence?.UserId == userId);
                    if (found is not null)
                    {
                        return found.Notice.Presence;
                    }

                    changed = _changed.Task;
                }

                await changed;
            }
        }

        private void OnBatch(ServerBatch batch)
        {
            TaskCompletionSource changed;
            lock (_gate)
            {
                _batches.Add(batch);
                changed = _changed;
                _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            changed.TrySetResult();
        }

        public async ValueTask DisposeAsync()
        {
            await _fixture.CreateRouteStore().RemoveLoadAsync(ServerId).WaitAsync(Timeout);
            if (_subscription is not null)
            {
                await _subscription.DisposeAsync();
            }
        }
    }
}
