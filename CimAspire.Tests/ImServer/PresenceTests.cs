using CimAspire.Protocol;

namespace CimAspire.Tests.ImServer;

/// <summary>Live presence between IM servers: logins and logouts reach the users of every server as PresenceChange notices.</summary>
public sealed class PresenceTests(TwoServerFixture cluster) : IClassFixture<TwoServerFixture>
{
    private static Task<Envelope> WaitForPresenceAsync(TestClient client, long userId, bool online) => client.WaitForAsync(e =>
        e.BodyCase == Envelope.BodyOneofCase.Notice && e.Notice.KindCase == Notice.KindOneofCase.Presence
        && e.Notice.Presence.UserId == userId && e.Notice.Presence.Online == online);

    [Fact]
    public async Task UsersOnEveryServerSeeAnotherComeOnlineAndGoOfflineButNotThemselvesNorATakeover()
    {
        long alice = await cluster.NewUserAsync(), carol = await cluster.NewUserAsync(), bob = await cluster.NewUserAsync();
        await using var a = await TestClient.LoginAsync(cluster.A, alice);
        await using var c = await TestClient.LoginAsync(cluster.B, carol);

        var b = await TestClient.LoginAsync(cluster.B, bob);
        await using (b)
        {
            var onA = await WaitForPresenceAsync(a, bob, online: true);
            Assert.Equal("user" + bob, onA.Notice.Presence.UserName);
            await WaitForPresenceAsync(c, bob, online: true);

            // Carol on the same server got the notice, so Bob's copy would have been written before this reply.
            await b.RequestAsync(new Envelope { Ping = new Ping { ClientTimeMs = 1 } });
            Assert.DoesNotContain(b.Frames, e => e.Notice?.Presence?.UserId == bob);

            // A login elsewhere that takes over (the default policy kicks the old connection) is no change of presence:
            // the only further notice is the offline when that connection goes too.
            await using var takeover = await TestClient.LoginAsync(cluster.A, bob);
        }

        var offline = await WaitForPresenceAsync(a, bob, online: false);
        Assert.Equal("user" + bob, offline.Notice.Presence.UserName);
        await WaitForPresenceAsync(c, bob, online: false);
        Assert.Single(a.Frames, e => e.Notice?.Presence?.UserId == bob && e.Notice.Presence.Online);
    }

    [Fact]
    public async Task WhenAServerShutsDownItsUsersGoOfflineForTheOthers()
    {
        long alice = await cluster.NewUserAsync(), dan = await cluster.NewUserAsync();
        await using var a = await TestClient.LoginAsync(cluster.A, alice);
        var leaving = await ImServerInstance.StartAsync(cluster.Redis.ConnectionString);
        TestClient? d = null;
        try
        {
            d = await TestClient.LoginAsync(leaving, dan);
            await WaitForPresenceAsync(a, dan, online: true);
        }
        finally
        {
            // Stops the server (it drains Dan, who goes offline) and disposes it; a host is stopped only once.
            await leaving.DisposeAsync();
            if (d is not null)
            {
                await d.DisposeAsync();
            }
        }

        var offline = await WaitForPresenceAsync(a, dan, online: false);
        Assert.Equal("user" + dan, offline.Notice.Presence.UserName);
    }
}
