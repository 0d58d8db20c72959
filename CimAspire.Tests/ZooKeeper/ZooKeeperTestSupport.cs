using System.Net.Sockets;
using CimAspire.Tests.Infrastructure;
using CimAspire.ZooKeeper;
using CimAspire.ZooKeeper.Protocol;

namespace CimAspire.Tests.ZooKeeper;

/// <summary>One standalone ZooKeeper server shared by the tests of a class (they use distinct paths).</summary>
public sealed class ZooKeeperServerFixture : IAsyncLifetime
{
    public ZooKeeperProcess Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await ZooKeeperProcess.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
    }
}

internal static class ZooKeeperTestSupport
{
    public static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(20);

    public static ZooKeeperClient CreateClient(string connectionString, double sessionTimeoutSeconds = 4)
    {
        return new ZooKeeperClient(new ZooKeeperClientOptions
        {
            ConnectionString = connectionString,
            SessionTimeout = TimeSpan.FromSeconds(sessionTimeoutSeconds),
            ReconnectDelay = TimeSpan.FromMilliseconds(200),
        });
    }

    public static async Task<ZooKeeperClient> ConnectAsync(string connectionString, double sessionTimeoutSeconds = 4)
    {
        var client = CreateClient(connectionString, sessionTimeoutSeconds);
        await client.ConnectAsync().WaitAsync(TestTimeout);
        return client;
    }

    public static string UniquePath(string prefix = "/t")
    {
        return $"{prefix}-{Guid.NewGuid():N}";
    }

    /// <summary>A watcher that completes a task with the first event it sees.</summary>
    public static (Action<WatchedEvent> Watcher, Task<WatchedEvent> Fired) OneEvent()
    {
        var fired = new TaskCompletionSource<WatchedEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        return (e => fired.TrySetResult(e), fired.Task);
    }

    /// <summary>Completes when the client reports a state change that satisfies <paramref name="match"/>.</summary>
    public static Task<ZooKeeperStateChange> NextState(ZooKeeperClient client, Func<ZooKeeperStateChange, bool> match)
    {
        var seen = new TaskCompletionSource<ZooKeeperStateChange>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.StateChanged += change =>
        {
            if (match(change))
            {
                seen.TrySetResult(change);
            }
        };
        return seen.Task;
    }

    /// <summary>Polls until <paramref name="condition"/> holds, for at most <see cref="TestTimeout"/>.</summary>
    public static async Task Until(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TestTimeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>
    /// Forces the expiry of a live session the way the reference describes: take it over on a second raw connection with
    /// the same id and password (the server drops the owner's connection), then close it there. Its ephemerals go at once.
    /// </summary>
    public static async Task ExpireSessionAsync(int port, long sessionId, byte[] password)
    {
        using var socket = new TcpClient();
        await socket.ConnectAsync("127.0.0.1", port).WaitAsync(TestTimeout);
        var stream = socket.GetStream();
        await stream.WriteAsync(Records.ConnectRequestFrame(new ConnectRequest(0, 4000, sessionId, password))).AsTask().WaitAsync(TestTimeout);
        var response = Records.ReadConnectResponse(await ReadFrameAsync(stream));
        if (response.SessionId != sessionId || response.TimeoutMs <= 0)
        {
            throw new InvalidOperationException($"Could not take over session 0x{sessionId:x}.");
        }

        var close = Records.CloseSession();
        close.PatchInt(Records.XidOffset, 1);
        await stream.WriteAsync(close.ToFrame()).AsTask().WaitAsync(TestTimeout);
        await ReadFrameAsync(stream);
    }

    public static async Task<byte[]> ReadFrameAsync(NetworkStream stream)
    {
        var prefix = new byte[4];
        await stream.ReadExactlyAsync(prefix).AsTask().WaitAsync(TestTimeout);
        var payload = new byte[System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(prefix)];
        await stream.ReadExactlyAsync(payload).AsTask().WaitAsync(TestTimeout);
        return payload;
    }
}
