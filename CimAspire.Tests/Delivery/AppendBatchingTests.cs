using CimAspire.Delivery;
using CimAspire.Delivery.Messages;
using CimAspire.Protocol;
using Google.Protobuf;
using StackExchange.Redis;

namespace CimAspire.Tests.Delivery;

/// <summary>
/// The store batches concurrent appends to one conversation into one script call: order, duplicates, failures and the
/// follow-up command issued right behind the store.
/// </summary>
public sealed class AppendBatchingTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static AppendRequest Text(long from, long to, string clientId, string text = "hi")
        => new(from, $"user{from}", new Target { UserId = to }, clientId, ContentType.Text, ByteString.CopyFromUtf8(text));

    [Fact]
    public async Task ConcurrentAppendsAreStoredInCallOrderWithFewerScriptCalls()
    {
        var store = fixture.CreateMessageStore();
        long a = RedisFixture.NewUserId(), b = RedisFixture.NewUserId();
        await using var admin = await AdminAsync();
        var callsBefore = await ScriptCallsAsync(admin);

        // Two senders interleaved, all asked for from one thread: the queue keeps the order of the calls.
        var appends = Enumerable.Range(0, 300)
            .Select(i => store.AppendAsync(i % 2 == 0 ? Text(a, b, $"m{i}", $"t{i}") : Text(b, a, $"m{i}", $"t{i}")))
            .ToList();
        var results = await Task.WhenAll(appends).WaitAsync(Timeout);

        Assert.Equal(Enumerable.Range(1, 300).Select(i => (long)i), results.Select(r => r.Message.Seq));
        Assert.All(results, r => Assert.False(r.Duplicate));
        var page = await store.ReadAfterAsync(ConversationIds.ForUsers(a, b), 0, 500).WaitAsync(Timeout);
        Assert.Equal(Enumerable.Range(0, 300).Select(i => $"t{i}"), page.Messages.Select(m => m.Body.ToStringUtf8()));
        Assert.Equal(Enumerable.Range(0, 300).Select(i => i % 2 == 0 ? a : b), page.Messages.Select(m => m.SenderId));

        // While one batch is at Redis (an fsync at least) the rest queue behind it: far fewer calls than messages.
        var calls = await ScriptCallsAsync(admin) - callsBefore;
        Assert.InRange(calls, 1, 150);
    }

    [Fact]
    public async Task ARetryInsideABatchReturnsTheOriginalAndTheOthersAreStored()
    {
        var store = fixture.CreateMessageStore();
        long a = RedisFixture.NewUserId(), b = RedisFixture.NewUserId();

        var appends = new List<Task<AppendResult>>
        {
            store.AppendAsync(Text(a, b, "x", "first")),
            store.AppendAsync(Text(a, b, "y", "second")),
            store.AppendAsync(Text(a, b, "x", "first again")),
            store.AppendAsync(Text(a, b, "z", "third")),
        };
        var results = await Task.WhenAll(appends).WaitAsync(Timeout);

        Assert.Equal([false, false, true, false], results.Select(r => r.Duplicate));
        Assert.Equal([1L, 2L, 1L, 3L], results.Select(r => r.Message.Seq));
        Assert.Equal("first", results[2].Message.Body.ToStringUtf8());
        Assert.Equal(results[0].Message.ServerMsgId, results[2].Message.ServerMsgId);
        var page = await store.ReadAfterAsync(ConversationIds.ForUsers(a, b), 0, 10).WaitAsync(Timeout);
        Assert.Equal(["first", "second", "third"], page.Messages.Select(m => m.Body.ToStringUtf8()));
    }

    [Fact]
    public async Task ARejectedRequestDoesNotDisturbTheAppendsAroundIt()
    {
        var store = fixture.CreateMessageStore();
        long a = RedisFixture.NewUserId(), b = RedisFixture.NewUserId();

        var before = store.AppendAsync(Text(a, b, "m1", "one"));
        // Refused before anything is queued (the call itself throws).
        Assert.Throws<ArgumentException>(() => { _ = store.AppendAsync(Text(a, b, string.Empty)); });
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = store.AppendAsync(Text(0, b, "bad")); });
        var after = store.AppendAsync(Text(a, b, "m2", "two"));

        var results = await Task.WhenAll(before, after).WaitAsync(Timeout);
        Assert.Equal([1L, 2L], results.Select(r => r.Message.Seq));
    }

    [Fact]
    public async Task AFailureInsideTheScriptFailsEachMessageAloneAndTheConversationRecovers()
    {
        var store = fixture.CreateMessageStore();
        long a = RedisFixture.NewUserId(), b = RedisFixture.NewUserId();
        var conversation = ConversationIds.ForUsers(a, b);
        var db = fixture.Connection.GetDatabase();
        // The idempotency index of the conversation is of the wrong type: every message's own step fails inside the script.
        await db.StringSetAsync(RedisKeys.ConversationClientIds(conversation), "not a sorted set").WaitAsync(Timeout);

        var failing = Enumerable.Range(0, 20).Select(i => store.AppendAsync(Text(a, b, $"f{i}"))).ToList();
        foreach (var append in failing)
        {
            var error = await Assert.ThrowsAsync<RedisServerException>(() => append.WaitAsync(Timeout));
            Assert.Contains("WRONGTYPE", error.Message, StringComparison.Ordinal);
        }

        await db.KeyDeleteAsync(RedisKeys.ConversationClientIds(conversation)).WaitAsync(Timeout);
        var retried = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => store.AppendAsync(Text(a, b, $"f{i}", $"t{i}"))))
            .WaitAsync(Timeout);

        Assert.All(retried, r => Assert.False(r.Duplicate));
        var page = await store.ReadAfterAsync(conversation, 0, 100).WaitAsync(Timeout);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"t{i}"), page.Messages.Select(m => m.Body.ToStringUtf8()));
    }

    [Fact]
    public async Task TheFollowUpRunsBehindTheStoreEvenAfterRedisLostItsScripts()
    {
        var store = fixture.CreateMessageStore();
        long a = RedisFixture.NewUserId(), b = RedisFixture.NewUserId();
        var seqKey = RedisKeys.ConversationSeq(ConversationIds.ForUsers(a, b));
        await using var admin = await AdminAsync();

        foreach (var flush in new[] { false, true, false })
        {
            if (flush)
            {
                await admin.GetServers()[0].ScriptFlushAsync().WaitAsync(Timeout);
            }

            // Several appends at once, so some go out in a batch issued from the previous one's completion.
            var reads = new List<Task<RedisValue>>[5];
            var appends = new Task<AppendResult>[5];
            for (var i = 0; i < appends.Length; i++)
            {
                var issued = reads[i] = [];
                appends[i] = store.AppendAsync(Text(a, b, Guid.NewGuid().ToString("N")), db => issued.Add(db.StringGetAsync(seqKey)));
            }

            for (var i = 0; i < appends.Length; i++)
            {
                var result = await appends[i].WaitAsync(Timeout);
                // The last follow-up issued is the one that ran after the message was stored.
                Assert.NotEmpty(reads[i]);
                var seen = (long)await reads[i][^1].WaitAsync(Timeout);
                Assert.True(seen >= result.Message.Seq, $"the follow-up read sequence {seen}, before message {result.Message.Seq} was stored");
            }
        }
    }

    private async Task<ConnectionMultiplexer> AdminAsync()
        => await ConnectionMultiplexer.ConnectAsync(fixture.Redis.ConnectionString + ",allowAdmin=true").WaitAsync(Timeout);

    private static async Task<long> ScriptCallsAsync(ConnectionMultiplexer admin)
    {
        var info = await admin.GetServers()[0].InfoAsync("commandstats").WaitAsync(Timeout);
        long calls = 0;
        foreach (var pair in info.SelectMany(group => group))
        {
            if (pair.Key is "cmdstat_evalsha" or "cmdstat_eval")
            {
                var field = pair.Value.Split(',')[0];
                calls += long.Parse(field["calls=".Length..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return calls;
    }
}
