using CimAspire.Protocol;
using Google.Protobuf;

namespace CimAspire.Tests.ImServer;

/// <summary>
/// Frames that need no Redis (pings, transient messages to a user on the same server, acknowledgements) are handled as
/// they arrive; these tests check that a client still gets its sends answered in the order it sent them, whichever way
/// each one took, and that such relays arrive in order.
/// </summary>
public sealed class InlineFrameTests(TwoServerFixture cluster) : IClassFixture<TwoServerFixture>
{
    [Fact]
    public async Task RepliesComeInFrameOrderWhenRelaysPingsAndStoredSendsAreMixed()
    {
        long alice = await cluster.NewUserAsync(), bob = await cluster.NewUserAsync();
        await using var a = await TestClient.LoginAsync(cluster.A, alice);
        await using var b = await TestClient.LoginAsync(cluster.A, bob);
        // Bob is known to exist once Alice sent him one message: from then on relays to him need no Redis at all.
        Assert.Equal(Envelope.BodyOneofCase.SendAck, (await a.SendMessageAsync(new Target { UserId = bob }, "first", "hi")).BodyCase);

        // Sent back to back, without waiting: stored sends (which wait for Redis) between relays and pings.
        const int rounds = 40;
        var requests = new List<Envelope>();
        for (var i = 0; i < rounds; i++)
        {
            var frame = (i % 4) switch
            {
                0 => new Envelope { Send = new SendRequest { ClientMsgId = $"s{i}", To = new Target { UserId = bob }, Body = ByteString.CopyFromUtf8($"stored {i}") } },
                1 or 2 => new Envelope { Send = new SendRequest { ClientMsgId = $"t{i}", To = new Target { UserId = bob }, Transient = true, Body = ByteString.CopyFromUtf8($"relayed {i}") } },
                _ => new Envelope { Ping = new Ping { ClientTimeMs = i } },
            };
            frame.RequestId = (ulong)(1000 + i);
            requests.Add(frame);
        }

        await a.SendRawAsync([.. requests.SelectMany(TestClient.Frame)]);
        var replies = new List<Envelope>();
        foreach (var request in requests)
        {
            replies.Add(await a.WaitForAsync(e => e.RequestId == request.RequestId));
        }

        // Sends are answered in the order sent, stored or relayed (a ping is answered at once, without waiting for them).
        var sends = requests.Where(r => r.BodyCase == Envelope.BodyOneofCase.Send).Select(r => r.RequestId).ToHashSet();
        var arrival = a.Frames.Where(f => sends.Contains(f.RequestId)).Select(f => f.RequestId).ToList();
        Assert.Equal(sends.Order(), arrival);
        Assert.All(replies.Zip(requests), pair =>
        {
            var (reply, request) = pair;
            Assert.Equal(request.BodyCase == Envelope.BodyOneofCase.Ping ? Envelope.BodyOneofCase.Pong : Envelope.BodyOneofCase.SendAck, reply.BodyCase);
            if (request.BodyCase == Envelope.BodyOneofCase.Send)
            {
                Assert.Equal((request.Send.ClientMsgId, 1), (reply.SendAck.ClientMsgId, reply.SendAck.OnlineRecipients));
            }
        });

        // Bob gets the relays in the order sent, each once.
        var expected = requests.Where(r => r.BodyCase == Envelope.BodyOneofCase.Send && r.Send.Transient).Select(r => r.Send.ClientMsgId).ToList();
        var relayed = new List<string>();
        foreach (var _ in expected)
        {
            var notice = await b.WaitForAsync(e => e.BodyCase == Envelope.BodyOneofCase.Notice && e.Notice.KindCase == Notice.KindOneofCase.Transient);
            relayed.Add(notice.Notice.Transient.ClientMsgId);
            Assert.Equal(alice, notice.Notice.Transient.FromUserId);
        }

        Assert.Equal(expected, relayed);
    }

    [Fact]
    public async Task ARelayToAUserOfAnotherServerOrOfflineStillSaysWhetherTheyWereOnline()
    {
        long alice = await cluster.NewUserAsync(), bob = await cluster.NewUserAsync(), carol = await cluster.NewUserAsync();
        await using var a = await TestClient.LoginAsync(cluster.A, alice);
        await using var b = await TestClient.LoginAsync(cluster.B, bob);

        var toBob = await a.RequestAsync(Relay(bob, "to-bob"));
        Assert.Equal(1, toBob.SendAck.OnlineRecipients);
        var notice = await b.WaitForAsync(e => e.BodyCase == Envelope.BodyOneofCase.Notice && e.Notice.KindCase == Notice.KindOneofCase.Transient);
        Assert.Equal("to-bob", notice.Notice.Transient.ClientMsgId);

        var toCarol = await a.RequestAsync(Relay(carol, "to-carol"));
        Assert.Equal(("to-carol", 0), (toCarol.SendAck.ClientMsgId, toCarol.SendAck.OnlineRecipients));

        var refused = await a.RequestAsync(Relay(9_999_999_999, "to-nobody"));
        Assert.Equal((ErrorCode.UnknownRecipient, false), (refused.Error.Code, refused.Error.Fatal));
    }

    private static Envelope Relay(long to, string clientMsgId) => new()
    {
        Send = new SendRequest { ClientMsgId = clientMsgId, To = new Target { UserId = to }, Transient = true, Body = ByteString.CopyFromUtf8("poke") },
    };
}
