using System.Net;
using CimAspire.Protocol;

namespace CimAspire.Tests.Route;

/// <summary>Two route API replicas on one Redis behave as one API: no state lives in a replica.</summary>
[Collection(RouteApiCollection.Name)]
public class ReplicaTests(RouteApiFixture fixture) : IAsyncLifetime
{
    private readonly FakeImServer _a = new("replica-im-a");
    private readonly FakeImServer _b = new("replica-im-b");
    private readonly FakeImServer _c = new("replica-im-c");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _a.DisposeAsync();
        await _b.DisposeAsync();
        await _c.DisposeAsync();
    }

    [Fact]
    public async Task AccountsSessionsAndServerChoiceAreTheSameOnEveryReplica()
    {
        // Each replica sees the registry on its own, as two processes watching ZooKeeper would.
        var directoryOne = new TestServerDirectory();
        var directoryTwo = new TestServerDirectory();
        directoryOne.Set(_a.Registration, _b.Registration, _c.Registration);
        directoryTwo.Set(_c.Registration, _a.Registration, _b.Registration);
        var one = fixture.CreateApi(directoryOne, new Dictionary<string, string?>()).CreateClient();
        var two = fixture.CreateApi(directoryTwo, new Dictionary<string, string?>()).CreateClient();

        for (var i = 0; i < 6; i++)
        {
            var name = RouteApiTestExtensions.UniqueName("replica");
            var account = await one.RegisterAsync(name);
            var viaOne = await one.LoginAsync(name);
            var viaTwo = await two.LoginAsync(name);
            Assert.Equal(account.UserId, viaTwo.UserId);
            Assert.Equal(viaOne.Server, viaTwo.Server);

            using var lookup = await one.SendAsync(HttpMethod.Get, $"/api/accounts/{account.UserId}", viaTwo.Token);
            Assert.Equal(account, await lookup.ReadAsync<AccountDto>());

            using var logout = await two.SendAsync(HttpMethod.Post, RouteApiPaths.Logout, viaOne.Token);
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
            using var refused = await one.SendAsync(HttpMethod.Post, RouteApiPaths.Refresh, viaOne.Token);
            await refused.AssertProblemAsync(HttpStatusCode.Unauthorized);
            using var stillValid = await one.SendAsync(HttpMethod.Post, RouteApiPaths.Refresh, viaTwo.Token);
            Assert.Equal(HttpStatusCode.OK, stillValid.StatusCode);
        }
    }
}
