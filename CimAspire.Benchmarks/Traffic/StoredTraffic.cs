using System.Collections.Concurrent;
using System.Diagnostics;
using CimAspire.Benchmarks.Cluster;
using CimAspire.Benchmarks.Completeness;
using CimAspire.Benchmarks.Results;
using CimAspire.Benchmarks.Wire;
using CimAspire.Protocol;
using Google.Protobuf;

namespace CimAspire.Benchmarks.Traffic;

/// <summary>One sender's ordered messages to a user or a group, and the clients that must receive them.</summary>
public sealed record StreamSpec(int Sender, Target To, IReadOnlyList<int> Recipients);

/// <summary>
/// Stored messages over protocol-level clients, with the client side of the delivery contract done as the SDK does it:
/// every Deliver is acknowledged; per conversation, messages are accepted strictly in sequence; a gap is buffered and
/// repaired with Sync; after a reconnect every conversation is synced and unacknowledged sends are retried with their
/// client message id. Everything accepted goes through the <see cref="CompletenessChecker"/>.
/// </summary>
public sealed class StoredTraffic
{
    private const int SyncLimit = 500;
    private readonly BenchClient[] _clients;
    private readonly ClientState[] _states;
    private readonly StreamSpec[] _streams;
    private readonly SemaphoreSlim[] _windows;
    private readonly int[][] _remaining; // per stream, per sequence: recipients still to receive it (window accounting)
    private readonly Dictionary<(int Stream, int Client), int> _recipientIndex = [];
    private readonly ScenarioResult _result;
    private readonly int _payload;
    private long _delivered;
    private long _syncHints;
    private int _measuring;

    public StoredTraffic(BenchClient[] clients, IReadOnlyList<StreamSpec> streams, int window, int payload, ScenarioResult result)
    {
        _clients = clients;
        _streams = [.. streams];
        _payload = payload;
        _result = result;
        _states = [.. clients.Select(_ => new ClientState())];
        _windows = new SemaphoreSlim[_streams.Length];
        _remaining = new int[_streams.Length][];
        for (var s = 0; s < _streams.Length; s++)
        {
            var id = Checker.RegisterStream(_streams[s].Recipients.Count);
            Debug.Assert(id == s, "stream ids are the spec indexes");
            _windows[s] = new SemaphoreSlim(window, window);
            _remaining[s] = new int[64];
            for (var r = 0; r < _streams[s].Recipients.Count; r++)
            {
                _recipientIndex[(s, _streams[s].Recipients[r])] = r;
            }
        }

        for (var i = 0; i < clients.Length; i++)
        {
            Attach(i);
        }
    }

    public CompletenessChecker Checker { get; } = new();

    /// <summary>Send-to-deliver latency while measuring; replace it to measure a new phase on its own.</summary>
    public LatencyRecorder Latency { get; set; } = new();

    /// <summary>Deliveries accepted while measuring.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    public bool Measuring
    {
        get => Volatile.Read(ref _measuring) == 1;
        set => Volatile.Write(ref _measuring, value ? 1 : 0);
    }

    public int StreamCount => _streams.Length;

    /// <summary>Waits for a free slot in the stream's window, then sends its next message.</summary>
    public async Task SendWindowedAsync(int stream, CancellationToken cancellationToken)
    {
        await _windows[stream].WaitAsync(cancellationToken);
        Send(stream, Stopwatch.GetTimestamp(), windowed: true);
    }

    /// <summary>Sends the stream's next message now, stamped with <paramref name="intendedTimestamp"/> (fixed-rate runs stamp
    /// the time the message was due, so a stalled sender shows as latency instead of hiding it).</summary>
    public void Send(int stream, long intendedTimestamp, bool windowed = false)
    {
        var spec = _streams[stream];
        var seq = Checker.NextSequence(stream);
        // Only windowed sends hold a slot to give back.
        SetRemaining(stream, seq, windowed ? spec.Recipients.Count : 0);
        var request = new SendRequest
        {
            ClientMsgId = $"{stream}-{seq}",
            To = spec.To,
            ContentType = ContentType.Binary,
            Body = ByteString.CopyFrom(MessageStamp.CreateBody(_payload, stream, seq, intendedTimestamp)),
        };
        var state = _states[spec.Sender];
        lock (state)
        {
            // Under the lock: a reconnect retries older sends before this one can go out on the new connection.
            state.Unacknowledged[request.ClientMsgId] = (stream, seq, request);
            Transmit(spec.Sender, stream, seq, request);
        }
    }

    /// <summary>Puts a new connection in place of a lost one, syncs every conversation, and retries unacknowledged sends.</summary>
    public void Reattach(int client, BenchClient replacement)
    {
        var state = _states[client];
        string[] conversations;
        lock (state)
        {
            _clients[client] = replacement;
            Attach(client);
            conversations = [.. state.Conversations.Keys];
            foreach (var conversation in state.Conversations.Values)
            {
                conversation.Syncing = false;
            }

            // Retries in the order they were first sent, with their original client message ids.
            foreach (var (stream, seq, request) in state.Unacknowledged.Values.OrderBy(v => v.Stream).ThenBy(v => v.Seq))
            {
                Checker.Retried(stream, seq);
                Transmit(client, stream, seq, request);
            }
        }

        foreach (var id in conversations)
        {
            RequestSync(client, id);
        }
    }

    /// <summary>Whether a client has nothing unacknowledged and no sync under way (it is "synced").</summary>
    public bool IsSettled(int client)
    {
        var state = _states[client];
        lock (state)
        {
            return state.Unacknowledged.Count == 0 && state.Conversations.Values.All(c => !c.Syncing && c.Pending.Count == 0);
        }
    }

    public bool AllSettled() => Enumerable.Range(0, _clients.Length).All(IsSettled);

    /// <summary>Asks every client to sync every conversation it knows, to pick up anything a lost notification left behind.</summary>
    public void SyncEverything()
    {
        for (var i = 0; i < _clients.Length; i++)
        {
            SyncClient(i);
        }
    }

    /// <summary>SyncHint frames the servers sent (they ask clients to sync after pushes may have been lost).</summary>
    public long SyncHints => Interlocked.Read(ref _syncHints);

    private void SyncClient(int client)
    {
        string[] ids;
        lock (_states[client])
        {
            ids = [.. _states[client].Conversations.Keys];
        }

        foreach (var id in ids)
        {
            RequestSync(client, id);
        }
    }

    /// <summary>Tells each recipient which conversations to expect, so a final sync covers conversations whose
    /// every notification was lost (the SDK learns them from the sync overview at login).</summary>
    public void Expect(int client, string conversationId)
    {
        lock (_states[client])
        {
            _ = _states[client].Conversation(conversationId);
        }
    }

    private void Attach(int client)
    {
        var connection = _clients[client].Connection;
        connection.FrameReceived = envelope =>
        {
            switch (envelope.BodyCase)
            {
                case Envelope.BodyOneofCase.Deliver:
                    Accept(client, envelope.Deliver.Message);
                    break;
                case Envelope.BodyOneofCase.Kick:
                    _result.CountError("kicked: " + envelope.Kick.Reason);
                    break;
                case Envelope.BodyOneofCase.SyncHint:
                    // The server's pushes may have been lost: sync as the SDK does (it spreads; a harness client need not).
                    Interlocked.Increment(ref _syncHints);
                    SyncClient(client);
                    break;
                case Envelope.BodyOneofCase.Error:
                    _result.CountError("server error: " + envelope.Error.Code);
                    break;
            }
        };
    }

    private void Transmit(int sender, int stream, long seq, SendRequest request)
    {
        var connection = _clients[sender].Connection;
        connection.Send(new Envelope { Send = request }, reply =>
        {
            if (reply is null)
            {
                // The connection died first: the fate is unknown until the retry after reconnect.
                return;
            }

            if (reply.BodyCase == Envelope.BodyOneofCase.SendAck)
            {
                Forget(sender, request.ClientMsgId);
                Checker.Acknowledged(stream, seq);
                return;
            }

            var code = reply.BodyCase == Envelope.BodyOneofCase.Error ? reply.Error.Code.ToString() : reply.BodyCase.ToString();
            if (reply.BodyCase == Envelope.BodyOneofCase.Error && reply.Error.Code is ErrorCode.Unavailable or ErrorCode.Internal)
            {
                // A transient failure: the SDK retries with the same client message id; so does the harness, once reattached or after a moment.
                _result.CountError("send failed, retried: " + code);
                _ = RetryLaterAsync(sender, stream, seq, request);
                return;
            }

            _result.CountError("send refused: " + code);
            Forget(sender, request.ClientMsgId);
            Checker.Refused(stream, seq);
            Release(stream, seq, all: true);
        });
    }

    private async Task RetryLaterAsync(int sender, int stream, long seq, SendRequest request)
    {
        await Task.Delay(200);
        Checker.Retried(stream, seq);
        lock (_states[sender])
        {
            Transmit(sender, stream, seq, request);
        }
    }

    private void Forget(int sender, string clientMsgId)
    {
        lock (_states[sender])
        {
            _states[sender].Unacknowledged.Remove(clientMsgId);
        }
    }

    private void Accept(int client, ChatMessage message)
    {
        var state = _states[client];
        var accepted = new List<ChatMessage>();
        var needSync = false;
        lock (state)
        {
            var conversation = state.Conversation(message.ConversationId);
            if (message.Seq < conversation.Next || conversation.Pending.ContainsKey(message.Seq))
            {
                Checker.Redelivered();
            }
            else if (message.Seq > conversation.Next)
            {
                conversation.Pending[message.Seq] = message;
                needSync = !conversation.Syncing;
                conversation.Syncing = true;
            }
            else
            {
                accepted.Add(message);
                conversation.Next++;
                while (conversation.Pending.Remove(conversation.Next, out var next))
                {
                    accepted.Add(next);
                    conversation.Next++;
                }
            }
        }

        foreach (var m in accepted)
        {
            Record(client, m);
        }

        if (accepted.Count > 0)
        {
            var last = accepted[^1];
            _clients[client].Connection.Send(new Envelope { DeliverAck = new DeliverAck { ConversationId = last.ConversationId, Seq = last.Seq } });
        }

        if (needSync)
        {
            SendSync(client, message.ConversationId);
        }
    }

    private void Record(int client, ChatMessage message)
    {
        if (!MessageStamp.TryRead(message.Body.Span, out var stamp) || stamp.StreamId >= _streams.Length
            || !_recipientIndex.TryGetValue((stamp.StreamId, client), out var recipient))
        {
            // Not a harness message (or one for another run): the everyone room or a stranger; not ours to judge.
            return;
        }

        var outcome = Checker.Delivered(stamp.StreamId, recipient, stamp.Sequence);
        if (Measuring)
        {
            Interlocked.Increment(ref _delivered);
            Latency.RecordSince(stamp.SentTimestamp);
        }

        if (outcome is DeliveryOutcome.InOrder or DeliveryOutcome.OutOfOrder)
        {
            Release(stamp.StreamId, stamp.Sequence, all: false);
        }
    }

    private void RequestSync(int client, string conversationId)
    {
        lock (_states[client])
        {
            var conversation = _states[client].Conversation(conversationId);
            if (conversation.Syncing)
            {
                return;
            }

            conversation.Syncing = true;
        }

        SendSync(client, conversationId);
    }

    private void SendSync(int client, string conversationId)
    {
        long after;
        lock (_states[client])
        {
            after = _states[client].Conversation(conversationId).Next - 1;
        }

        var connection = _clients[client].Connection;
        connection.Send(new Envelope { Sync = new SyncRequest { ConversationId = conversationId, AfterSeq = after, Limit = SyncLimit } }, reply =>
        {
            if (reply is null || reply.BodyCase != Envelope.BodyOneofCase.SyncResponse)
            {
                if (reply is not null)
                {
                    _result.CountError("sync refused: " + (reply.BodyCase == Envelope.BodyOneofCase.Error ? reply.Error.Code.ToString() : reply.BodyCase.ToString()));
                }

                // The reattach after reconnect syncs again; leave the flag for it to reset.
                return;
            }

            lock (_states[client])
            {
                _states[client].Conversation(conversationId).Syncing = false;
            }

            foreach (var m in reply.SyncResponse.Messages)
            {
                Accept(client, m);
            }

            bool again;
            lock (_states[client])
            {
                var conversation = _states[client].Conversation(conversationId);
                again = reply.SyncResponse.HasMore || conversation.Pending.Count > 0;
                if (again && !conversation.Syncing)
                {
                    conversation.Syncing = true;
                }
                else
                {
                    again = false;
                }
            }

            if (again)
            {
                SendSync(client, conversationId);
            }
        });
    }

    private void SetRemaining(int stream, long seq, int count)
    {
        lock (_windows[stream])
        {
            var array = _remaining[stream];
            if (seq >= array.Length)
            {
                Array.Resize(ref array, Math.Max(array.Length * 2, (int)seq + 1));
                _remaining[stream] = array;
            }

            array[seq] = count;
        }
    }

    private void Release(int stream, long seq, bool all)
    {
        bool free;
        lock (_windows[stream])
        {
            var array = _remaining[stream];
            if (seq >= array.Length || array[seq] <= 0)
            {
                return;
            }

            array[seq] = all ? 0 : array[seq] - 1;
            free = array[seq] == 0;
        }

        if (free)
        {
            _windows[stream].Release();
        }
    }

    private sealed class ClientState
    {
        public Dictionary<string, ConversationState> Conversations { get; } = [];

        public Dictionary<string, (int Stream, long Seq, SendRequest Request)> Unacknowledged { get; } = [];

        public ConversationState Conversation(string id)
        {
            if (!Conversations.TryGetValue(id, out var c))
            {
                c = new ConversationState();
                Conversations[id] = c;
            }

            return c;
        }
    }

    private sealed class ConversationState
    {
        public long Next { get; set; } = 1;

        public SortedDictionary<long, ChatMessage> Pending { get; } = [];

        public bool Syncing { get; set; }
    }
}
