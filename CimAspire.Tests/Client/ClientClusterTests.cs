using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using CimAspire.Client;
using CimAspire.Protocol;
using CimAspire.Tests.Cluster;

namespace CimAspire.Tests.Client;

/// <summary>The SDK against the whole graph: real route API replicas, real IM server replicas, Redis and ZooKeeper.</summary>
[Collection("cluster")]
public sealed class ClientClusterTests(ClusterFixture cluster) : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly List<CimClient> _clients = [];
    private readonly List<HttpClient> _http = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync().AsTask().WaitAsync(Timeout);
        }

        foreach (var http in _http)
        {
            http.Dispose();
        }
    }

    [Fact]
    public async Task Two_users_chat_directly_and_in_the_everyone_room()
    {
        var (alice, aliceProbe) = await OnlineAsync("alice");
        var (bob, bobProbe) = await OnlineAsync("bob");

        var direct = await alice.SendAsync(new Target { UserId = bob.UserId }, "hello bob").WaitAsync(Timeout);
        // The shared cluster's room may hold messages of other tests (a new session syncs some of them): look at this conversation only.
        await bobProbe.WaitAsync(() => bobProbe.Messages.Any(m => m.ConversationId == direct.ConversationId), Timeout);
        var received = Assert.Single(bobProbe.Messages, m => m.ConversationId == direct.ConversationId);
        Assert.Equal("hello bob", received.Body.ToStringUtf8());
        Assert.Equal(direct.ServerMsgId, received.ServerMsgId);
        Assert.Equal(alice.UserName, received.SenderName);
        Assert.Equal(ConversationIds.ForUsers(alice.UserId, bob.UserId), direct.ConversationId);

        var reply = await bob.SendAsync(new Target { UserId = alice.UserId }, "hi alice").WaitAsync(Timeout);
        await aliceProbe.WaitAsync(() => aliceProbe.Messages.Any(m => m.ServerMsgId == reply.ServerMsgId), Timeout);
        Assert.Equal(direct.Seq + 1, reply.Seq);

        var room = await alice.SendAsync(new Target { GroupId = ConversationIds.EveryoneGroupId }, "hello room").WaitAsync(Timeout);
        await bobProbe.WaitAsync(() => bobProbe.Messages.Any(m => m.ServerMsgId == room.ServerMsgId), Timeout);
        Assert.Equal("g0", room.ConversationId);
        Assert.DoesNotContain(aliceProbe.Messages, m => m.ServerMsgId == room.ServerMsgId);
    }

    [Fact]
    public async Task Group_members_receive_group_messages_and_others_do_not()
    {
        var (alice, _) = await OnlineAsync("alice");
        var (bob, bobProbe) = await OnlineAsync("bob");
        var (carol, carolProbe) = await OnlineAsync("carol");

        var group = await alice.CreateGroupAsync("team-" + Guid.NewGuid().ToString("N")[..6]).WaitAsync(Timeout);
        await bob.JoinGroupAsync(group.GroupId).WaitAsync(Timeout);
        var sent = await alice.SendAsync(new Target { GroupId = group.GroupId }, "team only").WaitAsync(Timeout);
        await bobProbe.WaitAsync(() => bobProbe.Messages.Any(m => m.ServerMsgId == sent.ServerMsgId), Timeout);

        var notMember = await Assert.ThrowsAsync<CimSendException>(
            () => carol.SendAsync(new Target { GroupId = group.GroupId }, "let me in").WaitAsync(Timeout));
        Assert.Equal(ErrorCode.NotAMember, notMember.Code);
        Assert.DoesNotContain(carolProbe.Messages, m => m.ConversationId == sent.ConversationId);
        Assert.Contains(await bob.GetMyGroupsAsync().WaitAsync(Timeout), g => g.GroupId == group.GroupId);
    }

    [Fact]
    public async Task Sending_again_with_the_same_client_message_id_stores_and_delivers_once()
    {
        var (alice, _) = await OnlineAsync("alice");
        var (bob, bobProbe) = await OnlineAsync("bob");
        var to = new Target { UserId = bob.UserId };
        var id = Guid.NewGuid().ToString("N");

        var first = await alice.SendAsync(to, "exactly once", id).WaitAsync(Timeout);
        var again = await alice.SendAsync(to, "exactly once", id).WaitAsync(Timeout);
        var marker = await alice.SendAsync(to, "after").WaitAsync(Timeout);

        Assert.False(first.Duplicate);
        Assert.True(again.Duplicate);
        Assert.Equal(first.ServerMsgId, again.ServerMsgId);
        Assert.Equal(first.Seq, again.Seq);
        Assert.Equal(first.Seq + 1, marker.Seq);
        await bobProbe.WaitAsync(() => bobProbe.Messages.Any(m => m.ServerMsgId == marker.ServerMsgId), Timeout);
        Assert.Equal(["exactly once", "after"], TextsIn(bobProbe, first.ConversationId));
    }

    [Fact]
    public async Task When_its_im_server_is_killed_the_client_lands_on_the_other_replica_and_loses_nothing()
    {
        var (alice, _) = await OnlineAsync("alice");
        var (bob, bobProbe) = await OnlineAsync("bob");
        var to = new Target { UserId = bob.UserId };
        var lostServer = bob.Server!.ServerId;
        var replica = cluster.FindImServerReplica(lostServer);
        var before = await alice.SendAsync(to, "before").WaitAsync(Timeout);
        await bobProbe.WaitAsync(() => bobProbe.Messages.Any(m => m.ServerMsgId == before.ServerMsgId), Timeout);

        try
        {
            await cluster.KillReplicaAsync(replica.ResourceName).WaitAsync(ClusterFixture.ReplicaTimeout);
            await bobProbe.WaitForStateAsync(ConnectionState.Reconnecting, Timeout);

            // Sent while bob reconnects (alice too, if she was on the same replica): her send retries until acked.
            var during = new List<SendResult>();
            for (var i = 1; i <= 3; i++)
            {
                during.Add(await alice.SendAsync(to, $"during {i}").WaitAsync(TimeSpan.FromSeconds(60)));
            }

            await bobProbe.WaitAsync(() => bobProbe.States.Count(s => s == ConnectionState.Online) >= 2, TimeSpan.FromSeconds(60));
            Assert.NotEqual(lostServer, bob.Server!.ServerId);
            var after = await alice.SendAsync(to, "after").WaitAsync(Timeout);
            await bobProbe.WaitAsync(() => bobProbe.Messages.Any(m => m.ServerMsgId == after.ServerMsgId), Timeout);

            Assert.Equal(["before", "during 1", "during 2", "during 3", "after"], TextsIn(bobProbe, before.ConversationId));
            Assert.Equal(bobProbe.Messages.Count, bobProbe.Messages.Select(m => m.ServerMsgId).Distinct().Count());
        }
        finally
        {
            await cluster.StartReplicaAsync(replica.ResourceName);
        }
    }

    [Fact]
    public async Task After_logout_the_client_stays_offline_and_its_token_is_refused()
    {
        var (bob, bobProbe) = await OnlineAsync("bob");
        var http = _http[^1];
        var token = bob.SessionToken!;

        await bob.LogoutAsync().WaitAsync(Timeout);

        Assert.Equal(ConnectionState.Offline, bob.State);
        Assert.Equal(ConnectionState.Offline, bobProbe.States[^1]);
        using var refresh = new HttpRequestMessage(HttpMethod.Post, RouteApiPaths.Refresh) { Content = JsonContent.Create(new RefreshRequest(null)) };
        refresh.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(refresh).WaitAsync(Timeout);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        await Assert.ThrowsAsync<InvalidOperationException>(() => bob.SendAsync(new Target { GroupId = 0 }, "x"));
    }

    private static List<string> TextsIn(ClientProbe probe, string conversationId) =>
        [.. probe.Messages.Where(m => m.ConversationId == conversationId).Select(m => m.Body.ToStringUtf8())];

    private async Task<(CimClient Client, ClientProbe Probe)> OnlineAsync(string stem)
    {
        var http = cluster.CreateRouteClient();
        _http.Add(http);
        var name = $"{stem}_{Guid.NewGuid():N}"[..(stem.Length + 9)];
        var client = new CimClient(new CimClientOptions { RouteApi = http.BaseAddress!, ClientName = "cim-cluster-test" }, http);
        _clients.Add(client);
        var probe = new ClientProbe(client);
        await client.RegisterAsync(name, "cluster-password").WaitAsync(Timeout);
        await client.LoginAsync(name, "cluster-password").WaitAsync(Timeout);
        return (client, probe);
    }
}
