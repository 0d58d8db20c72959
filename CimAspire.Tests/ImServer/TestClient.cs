using System.Net.Sockets;
using CimAspire.Protocol;
using Google.Protobuf;

namespace CimAspire.Tests.ImServer;

/// <summary>A raw TCP client speaking the wire protocol: varint32-prefixed envelopes, every received frame recorded.</summary>
public sealed class TestClient : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly List<Envelope> _frames = [];
    private readonly HashSet<int> _taken = [];
    private readonly Task _reader;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ulong _nextRequestId;

    private TestClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        Closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _reader = Task.Run(ReadLoopAsync);
    }

    /// <summary>Completes when the server closed the connection.</summary>
    public TaskCompletionSource Closed { get; }

    public long UserId { get; private set; }

    public static Task<TestClient> ConnectAsync(int port) => ConnectAsync("127.0.0.1", port);

    public static async Task<TestClient> ConnectAsync(string host, int port)
    {
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            await tcp.ConnectAsync(host, port).WaitAsync(Timeout);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }

        return new TestClient(tcp);
    }

    /// <summary>Connects and logs in; fails the test if the login is refused.</summary>
    public static async Task<TestClient> LoginAsync(ImServerInstance server, long userId)
    {
        var client = await ConnectAsync(server.Port);
        var result = await client.RequestAsync(new Envelope { Login = new LoginRequest { Token = server.IssueToken(userId), Client = "test" } });
        Assert.Equal(Envelope.BodyOneofCase.LoginResult, result.BodyCase);
        client.UserId = userId;
        return client;
    }

    public IReadOnlyList<Envelope> Frames
    {
        get
        {
            lock (_frames)
            {
                return _frames.ToList();
            }
        }
    }

    public async Task SendAsync(Envelope envelope)
    {
        await SendRawAsync(Frame(envelope));
    }

    public async Task SendRawAsync(byte[] bytes)
    {
        await _writeLock.WaitAsync();
        try
        {
            await _stream.WriteAsync(bytes).AsTask().WaitAsync(Timeout);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Sends a request with a fresh request id and waits for the frame that answers it.</summary>
    public async Task<Envelope> RequestAsync(Envelope request)
    {
        request.RequestId = Interlocked.Increment(ref _nextRequestId) + 1_000_000;
        await SendAsync(request);
        return await WaitForAsync(e => e.RequestId == request.RequestId);
    }

    public Task<Envelope> SendMessageAsync(Target to, string clientMsgId, string text)
        => RequestAsync(new Envelope { Send = new SendRequest { ClientMsgId = clientMsgId, To = to, Body = ByteString.CopyFromUtf8(text) } });

    /// <summary>Waits for the first not-yet-taken frame matching the predicate, and takes it.</summary>
    public async Task<Envelope> WaitForAsync(Func<Envelope, bool> predicate, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? Timeout);
        while (true)
        {
            Task changed;
            lock (_frames)
            {
                for (var i = 0; i < _frames.Count; i++)
                {
                    if (!_taken.Contains(i) && predicate(_frames[i]))
                    {
                        _taken.Add(i);
                        return _frames[i];
                    }
                }

                changed = _changed.Task;
            }

            if (Closed.Task.IsCompleted)
            {
                throw new InvalidOperationException("The server closed the connection before the expected frame arrived.");
            }

            await Task.WhenAny(changed, Closed.Task).WaitAsync(cts.Token);
        }
    }

    /// <summary>Takes every Deliver frame received so far.</summary>
    public List<ChatMessage> TakeDelivered()
    {
        lock (_frames)
        {
            var messages = new List<ChatMessage>();
            for (var i = 0; i < _frames.Count; i++)
            {
                if (!_taken.Contains(i) && _frames[i].BodyCase == Envelope.BodyOneofCase.Deliver)
                {
                    _taken.Add(i);
                    messages.Add(_frames[i].Deliver.Message);
                }
            }

            return messages;
        }
    }

    public async Task<ChatMessage> WaitForDeliverAsync(Func<ChatMessage, bool>? predicate = null)
        => (await WaitForAsync(e => e.BodyCase == Envelope.BodyOneofCase.Deliver && (predicate?.Invoke(e.Deliver.Message) ?? true))).Deliver.Message;

    public static byte[] Frame(Envelope envelope)
    {
        var body = envelope.ToByteArray();
        var prefix = CodedOutputStream.ComputeUInt32Size((uint)body.Length);
        var buffer = new byte[prefix + body.Length];
        var output = new CodedOutputStream(buffer);
        output.WriteUInt32((uint)body.Length);
        output.Flush();
        body.CopyTo(buffer, prefix);
        return buffer;
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (true)
            {
                var length = await ReadVarintAsync();
                if (length < 0)
                {
                    break;
                }

                var body = new byte[length];
                await _stream.ReadExactlyAsync(body);
                var envelope = Envelope.Parser.ParseFrom(body);
                lock (_frames)
                {
                    _frames.Add(envelope);
                    var previous = _changed;
                    _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    previous.TrySetResult();
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or EndOfStreamException or SocketException)
        {
        }
        finally
        {
            Closed.TrySetResult();
        }
    }

    private async Task<int> ReadVarintAsync()
    {
        var result = 0;
        var one = new byte[1];
        for (var shift = 0; shift < 35; shift += 7)
        {
            if (await _stream.ReadAsync(one) == 0)
            {
                return -1;
            }

            result |= (one[0] & 0x7F) << shift;
            if ((one[0] & 0x80) == 0)
            {
                return result;
            }
        }

        throw new IOException("Bad varint from the server.");
    }

    public async ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        await _reader.WaitAsync(Timeout);
        _writeLock.Dispose();
    }
}
