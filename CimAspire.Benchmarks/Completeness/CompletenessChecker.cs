namespace CimAspire.Benchmarks.Completeness;

/// <summary>What the checker concluded about one delivery as it arrived.</summary>
public enum DeliveryOutcome
{
    /// <summary>The first copy, in order.</summary>
    InOrder,
    /// <summary>The first copy, but after a later message of the same stream: the user saw the order change.</summary>
    OutOfOrder,
    /// <summary>A second copy of a message the recipient already had: the user saw it twice.</summary>
    Duplicate,
    /// <summary>A message that was never sent, or whose send was refused.</summary>
    Unexpected,
}

/// <summary>
/// Checks the delivery contract of a run: every acknowledged message reaches each of its recipients exactly once,
/// in the order it was sent. A stream is one sender's ordered messages to a fixed set of recipients (one for 1:1,
/// the members for a group); sequence numbers are the harness's own (1, 2, ...), carried in the message body.
/// Thread-safe: senders and receive loops call it concurrently.
/// </summary>
public sealed class CompletenessChecker
{
    private readonly object _gate = new();
    private readonly List<SendLog> _streams = [];
    private long _redelivered;

    /// <summary>Registers a stream and returns its id (carried in each message body).</summary>
    public int RegisterStream(int recipientCount = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(recipientCount, 1);
        lock (_gate)
        {
            _streams.Add(new SendLog(recipientCount));
            return _streams.Count - 1;
        }
    }

    public int StreamCount
    {
        get
        {
            lock (_gate)
            {
                return _streams.Count;
            }
        }
    }

    /// <summary>Hands out the next sequence number of a stream and records it as sent, not yet acknowledged.</summary>
    public long NextSequence(int streamId) => Stream(streamId).Next();

    /// <summary>The server accepted the message (SendAck, or written for a transient relay): it must be delivered.</summary>
    public void Acknowledged(int streamId, long sequence) => Stream(streamId).Set(sequence, SendState.Acknowledged);

    /// <summary>
    /// The sender sent the message again after a failure (same client message id). Messages sent after it may already
    /// be stored, so it may legitimately arrive after them: that is counted as reordered by retry, not out of order.
    /// </summary>
    public void Retried(int streamId, long sequence) => Stream(streamId).MarkRetried(sequence);

    /// <summary>The server refused the message with an error: it must not be delivered.</summary>
    public void Refused(int streamId, long sequence) => Stream(streamId).Set(sequence, SendState.Refused);

    /// <summary>
    /// A copy the client recognised as one it already had by the server's sequence number (a resync or a
    /// redelivery after reconnect). Clients drop these silently, so they are not errors; they are counted for the report.
    /// </summary>
    public void Redelivered() => Interlocked.Increment(ref _redelivered);

    public DeliveryOutcome Delivered(int streamId, int recipient, long sequence)
    {
        var stream = Stream(streamId);
        return stream.Receiver(recipient).Record(sequence, stream.StateOf(sequence), stream.WasRetried(sequence));
    }

    /// <summary>Whether a stream's recipient has every acknowledged message (used to wait for the tail of a run).</summary>
    public bool IsCaughtUp(int streamId, int recipient)
    {
        var stream = Stream(streamId);
        return stream.Receiver(recipient).HasAll(stream);
    }

    public bool AllCaughtUp()
    {
        SendLog[] streams;
        lock (_gate)
        {
            streams = [.. _streams];
        }

        foreach (var stream in streams)
        {
            for (var r = 0; r < stream.RecipientCount; r++)
            {
                if (!stream.Receiver(r).HasAll(stream))
                {
                    return false;
                }
            }
        }

        return true;
    }

    public CompletenessReport Verify()
    {
        SendLog[] streams;
        lock (_gate)
        {
            streams = [.. _streams];
        }

        var report = new CompletenessReport { Streams = streams.Length, Redelivered = Interlocked.Read(ref _redelivered) };
        foreach (var stream in streams)
        {
            stream.AddTo(report);
        }

        return report;
    }

    private SendLog Stream(int streamId)
    {
        lock (_gate)
        {
            if ((uint)streamId >= (uint)_streams.Count)
            {
                throw new ArgumentOutOfRangeException(nameof(streamId), streamId, "No such stream.");
            }

            return _streams[streamId];
        }
    }

    private enum SendState : byte
    {
        Unknown = 0,
        Sent = 1,
        Acknowledged = 2,
        Refused = 3,
    }

    private sealed class SendLog
    {
        private readonly ReceiveLog[] _receivers;
        private SendState[] _states = new SendState[64];
        private readonly HashSet<long> _retried = [];
        private long _last;

        public SendLog(int recipientCount)
        {
            _receivers = new ReceiveLog[recipientCount];
            for (var i = 0; i < recipientCount; i++)
            {
                _receivers[i] = new ReceiveLog();
            }
        }

        public int RecipientCount => _receivers.Length;

        public long Last
        {
            get
            {
                lock (this)
                {
                    return _last;
                }
            }
        }

        public ReceiveLog Receiver(int recipient)
        {
            if ((uint)recipient >= (uint)_receivers.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(recipient), recipient, "No such recipient in this stream.");
            }

            return _receivers[recipient];
        }

        public long Next()
        {
            lock (this)
            {
                var seq = ++_last;
                Grow(ref _states, seq);
                _states[seq] = SendState.Sent;
                return seq;
            }
        }

        public void Set(long sequence, SendState state)
        {
            lock (this)
            {
                if (sequence < 1 || sequence > _last)
                {
                    throw new ArgumentOutOfRangeException(nameof(sequence), sequence, "This sequence was never handed out.");
                }

                _states[sequence] = state;
            }
        }

        public void MarkRetried(long sequence)
        {
            lock (this)
            {
                _retried.Add(sequence);
            }
        }

        public bool WasRetried(long sequence)
        {
            lock (this)
            {
                return _retried.Contains(sequence);
            }
        }

        public SendState StateOf(long sequence)
        {
            lock (this)
            {
                return sequence >= 1 && sequence <= _last ? _states[sequence] : SendState.Unknown;
            }
        }

        public bool IsExpected(long sequence) => StateOf(sequence) == SendState.Acknowledged;

        public void AddTo(CompletenessReport report)
        {
            SendState[] states;
            long last;
            lock (this)
            {
                states = (SendState[])_states.Clone();
                last = _last;
            }

            long acknowledged = 0, refused = 0, unconfirmed = 0;
            for (var seq = 1; seq <= last; seq++)
            {
                switch (states[seq])
                {
                    case SendState.Acknowledged: acknowledged++; break;
                    case SendState.Refused: refused++; break;
                    default: unconfirmed++; break;
                }
            }

            report.Sent += last;
            report.Acknowledged += acknowledged;
            report.Refused += refused;
            report.Unconfirmed += unconfirmed;
            foreach (var receiver in _receivers)
            {
                report.Recipients++;
                report.ExpectedDeliveries += acknowledged;
                receiver.AddTo(report, states, last);
            }
        }
    }

    private sealed class ReceiveLog
    {
        private byte[] _counts = new byte[64];
        private long _highest;
        private long _outOfOrder;
        private long _reorderedByRetry;
        private long _duplicates;
        private long _unexpected;
        private long _distinct;

        public DeliveryOutcome Record(long sequence, SendState state, bool retried)
        {
            lock (this)
            {
                if (sequence < 1 || state is SendState.Unknown or SendState.Refused)
                {
                    _unexpected++;
                    return DeliveryOutcome.Unexpected;
                }

                Grow(ref _counts, sequence);
                var count = _counts[sequence];
                if (count < byte.MaxValue)
                {
                    _counts[sequence] = (byte)(count + 1);
                }

                if (count > 0)
                {
                    _duplicates++;
                    return DeliveryOutcome.Duplicate;
                }

                _distinct++;
                if (sequence < _highest)
                {
                    if (retried)
                    {
                        _reorderedByRetry++;
                        return DeliveryOutcome.InOrder;
                    }

                    _outOfOrder++;
                    return DeliveryOutcome.OutOfOrder;
                }

                _highest = sequence;
                return DeliveryOutcome.InOrder;
            }
        }

        public bool HasAll(SendLog stream)
        {
            var last = stream.Last;
            lock (this)
            {
                for (var seq = 1L; seq <= last; seq++)
                {
                    if (stream.IsExpected(seq) && (seq >= _counts.Length || _counts[seq] == 0))
                    {
                        return false;
                    }
                }

                return true;
            }
        }

        public void AddTo(CompletenessReport report, SendState[] states, long last)
        {
            lock (this)
            {
                for (var seq = 1L; seq <= last; seq++)
                {
                    var got = seq < _counts.Length && _counts[seq] > 0;
                    switch (states[seq])
                    {
                        case SendState.Acknowledged when !got:
                            report.Lost++;
                            break;
                        case SendState.Sent when got:
                            report.UnconfirmedDelivered++;
                            break;
                    }
                }

                report.Delivered += _distinct;
                report.Duplicated += _duplicates;
                report.OutOfOrder += _outOfOrder;
                report.ReorderedByRetry += _reorderedByRetry;
                report.Unexpected += _unexpected;
            }
        }
    }

    private static void Grow<T>(ref T[] array, long index)
    {
        if (index < array.Length)
        {
            return;
        }

        var size = array.Length;
        while (size <= index)
        {
            size *= 2;
        }

        Array.Resize(ref array, size);
    }
}

/// <summary>The verdict of a run on the delivery contract. <see cref="IsComplete"/> is what decides the exit code.</summary>
public sealed class CompletenessReport
{
    public int Streams { get; set; }
    public long Recipients { get; set; }
    /// <summary>Messages handed to the transport.</summary>
    public long Sent { get; set; }
    /// <summary>Messages the server confirmed: each must reach every recipient of its stream.</summary>
    public long Acknowledged { get; set; }
    /// <summary>Messages the server refused with an error: none may be delivered.</summary>
    public long Refused { get; set; }
    /// <summary>Messages whose fate the sender never learnt (e.g. its server died before the ack): either outcome is allowed.</summary>
    public long Unconfirmed { get; set; }
    public long UnconfirmedDelivered { get; set; }
    public long ExpectedDeliveries { get; set; }
    /// <summary>Distinct messages received, over all recipients.</summary>
    public long Delivered { get; set; }
    public long Lost { get; set; }
    public long Duplicated { get; set; }
    public long OutOfOrder { get; set; }
    public long Unexpected { get; set; }
    /// <summary>Copies a client dropped by server sequence (resync after reconnect); not errors.</summary>
    public long Redelivered { get; set; }
    /// <summary>Messages that arrived after later ones because their first send failed and the sender retried them.</summary>
    public long ReorderedByRetry { get; set; }

    public bool IsComplete => Lost == 0 && Duplicated == 0 && OutOfOrder == 0 && Unexpected == 0;

    public string Describe() => IsComplete
        ? $"complete: {ExpectedDeliveries} expected deliveries all arrived once, in order"
        : $"INCOMPLETE: lost {Lost}, shown twice {Duplicated}, out of order {OutOfOrder}, unexpected {Unexpected} (of {ExpectedDeliveries} expected)";
}
