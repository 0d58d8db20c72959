using CimAspire.ZooKeeper.Protocol;

namespace CimAspire.ZooKeeper.Client;

/// <summary>Turns a reply (its error code and body) into a result, or throws <see cref="ZooKeeperException"/>.</summary>
internal delegate T ReplyParser<T>(ZooKeeperErrorCode code, ref JuteReader reader);

/// <summary>A request that was written and waits for its reply, matched by xid in FIFO order.</summary>
internal abstract class PendingRequest
{
    protected PendingRequest(OpCode op, string? path)
    {
        Op = op;
        Path = path;
    }

    public OpCode Op { get; }

    public string? Path { get; }

    public int Xid { get; set; }

    /// <summary>Runs on the read loop, before the next frame is parsed, so watch registration cannot miss a notification.</summary>
    public abstract void Complete(int error, ref JuteReader reader);

    public abstract void Fail(Exception exception);
}

internal sealed class PendingRequest<T> : PendingRequest
{
    private readonly ReplyParser<T> _parser;

    // Continuations run asynchronously so user code never runs on (or blocks) the socket read loop.
    private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public PendingRequest(OpCode op, string? path, ReplyParser<T> parser)
        : base(op, path)
    {
        _parser = parser;
    }

    public Task<T> Task => _completion.Task;

    public override void Complete(int error, ref JuteReader reader)
    {
        try
        {
            _completion.TrySetResult(_parser((ZooKeeperErrorCode)error, ref reader));
        }
        catch (ZooKeeperException ex)
        {
            _completion.TrySetException(ex);
        }
        catch (ZooKeeperProtocolException ex)
        {
            _completion.TrySetException(new ZooKeeperException(ZooKeeperErrorCode.ConnectionLoss, Path, $"The reply to {Op} was malformed: {ex.Message}", ex));
            throw;
        }
    }

    public override void Fail(Exception exception)
    {
        _completion.TrySetException(exception);
    }
}
