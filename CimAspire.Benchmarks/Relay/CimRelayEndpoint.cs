using CimAspire.Benchmarks.Cluster;
using CimAspire.Protocol;
using Google.Protobuf;

namespace CimAspire.Benchmarks.Relay;

/// <summary>A CimAspire client doing the relay with transient messages: SendRequest(transient) to the partner's user id,
/// relayed without storage and received as Notice.TransientMessage.</summary>
public sealed class CimRelayEndpoint : IRelayEndpoint
{
    private readonly BenchClient _client;
    private readonly long[] _userIds;
    private long _nextId;

    public CimRelayEndpoint(BenchClient client, long[] userIds)
    {
        _client = client;
        _userIds = userIds;
        client.Connection.FrameReceived = OnFrame;
    }

    public Action<ReadOnlyMemory<byte>>? Received { get; set; }

    public Action<ReadOnlyMemory<byte>, string>? Refused { get; set; }

    public bool ConfirmsSends => true;

    public Action<ReadOnlyMemory<byte>, bool>? Confirmed { get; set; }

    public ValueTask SendAsync(int partner, ReadOnlyMemory<byte> body)
    {
        var request = new Envelope
        {
            Send = new SendRequest
            {
                ClientMsgId = Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture),
                To = new Target { UserId = _userIds[partner] },
                ContentType = ContentType.Binary,
                Body = ByteString.CopyFrom(body.Span),
                Transient = true,
            },
        };
        var sent = request.Send.Body;
        _client.Connection.Send(request, reply =>
        {
            if (reply is null)
            {
                Refused?.Invoke(sent.Memory, "connection closed");
            }
            else if (reply.BodyCase == Envelope.BodyOneofCase.SendAck)
            {
                // Transient messages go to online recipients only: the ack says whether there was one.
                Confirmed?.Invoke(sent.Memory, reply.SendAck.OnlineRecipients > 0);
            }
            else
            {
                Refused?.Invoke(sent.Memory, reply.BodyCase == Envelope.BodyOneofCase.Error ? reply.Error.Code.ToString() : reply.BodyCase.ToString());
            }
        });
        return ValueTask.CompletedTask;
    }

    private void OnFrame(Envelope envelope)
    {
        if (envelope.BodyCase == Envelope.BodyOneofCase.Notice && envelope.Notice.KindCase == Notice.KindOneofCase.Transient)
        {
            Received?.Invoke(envelope.Notice.Transient.Body.Memory);
        }
    }

    public ValueTask DisposeAsync() => _client.Connection.DisposeAsync();
}
