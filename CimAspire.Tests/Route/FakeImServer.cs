using System.Net;
using System.Net.Sockets;
using CimAspire.Tests.Infrastructure;
using CimAspire.ZooKeeper.Registry;

namespace CimAspire.Tests.Route;

/// <summary>A TCP listener that accepts and closes connections: enough to pass the route API's liveness probe.</summary>
public sealed class FakeImServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private int _accepted;

    public FakeImServer(string id)
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Registration = TestServerDirectory.Registration(id, ((IPEndPoint)_listener.LocalEndpoint).Port);
        _acceptLoop = AcceptAsync();
    }

    public ServerRegistration Registration { get; }

    /// <summary>Connections accepted so far (each probe is one).</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    public string Id => Registration.Id;

    /// <summary>A registration for a server that is registered but does not answer (nothing listens on its port).</summary>
    public static ServerRegistration Dead(string id) => TestServerDirectory.Registration(id, TestPorts.GetFreePort());

    private async Task AcceptAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                Interlocked.Increment(ref _accepted);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _acceptLoop.WaitAsync(TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }
}
