using System.Net;
using System.Net.Sockets;
using CimAspire.Route.Extensions;
using CimAspire.Route.Selection;
using Microsoft.Extensions.Options;

namespace CimAspire.Tests.Route;

/// <summary>The liveness probe under a storm of logins: one connect per server and interval, and what a busy server answers.</summary>
public class ServerProbeTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static ServerProbe Probe(int cacheMs = 60_000, int timeoutMs = 500) =>
        new(Options.Create(new RouteApiOptions { ProbeCacheMs = cacheMs, ProbeTimeoutMs = timeoutMs }), TimeProvider.System);

    [Fact]
    public async Task ConcurrentLoginsShareOneProbeOfAServer()
    {
        await using var server = new FakeImServer("probe-once");
        var probe = Probe();

        var results = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => probe.ProbeAsync(server.Registration, CancellationToken.None))).WaitAsync(Timeout);
        Assert.All(results, r => Assert.Equal(ProbeResult.Reachable, r));

        // The server accepts in arrival order: once a marker connection of ours was accepted (and closed), every probe
        // connection before it was accepted too.
        using (var marker = new TcpClient())
        {
            await marker.ConnectAsync(IPAddress.Loopback, server.Registration.Port).WaitAsync(Timeout);
            var closed = await marker.GetStream().ReadAsync(new byte[1]).AsTask().WaitAsync(Timeout);
            Assert.Equal(0, closed);
        }

        Assert.Equal(2, server.Accepted);
    }

    [Fact]
    public async Task AServerThatStoppedListeningIsRefusedAsSoonAsTheResultIsOld()
    {
        var server = new FakeImServer("probe-gone");
        var registration = server.Registration;
        var probe = Probe(cacheMs: 0);
        Assert.Equal(ProbeResult.Reachable, await probe.ProbeAsync(registration, CancellationToken.None).WaitAsync(Timeout));
        await server.DisposeAsync();

        // The request that finds the answer old waits for the re-check: a server that died is refused at once.
        Assert.Equal(ProbeResult.Refused, await probe.ProbeAsync(registration, CancellationToken.None).WaitAsync(Timeout));
    }

    [Fact]
    public async Task AServerWhoseAcceptQueueIsFullTimesOutRatherThanRefuses()
    {
        using var busy = await BusyListener.StartAsync();
        var probe = Probe(timeoutMs: 200);
        Assert.Equal(ProbeResult.TimedOut, await probe.ProbeAsync(busy.Registration, CancellationToken.None).WaitAsync(Timeout));
    }

    /// <summary>
    /// A listener that never accepts, with its accept queue full: further connects get no answer, as with an IM server
    /// flooded by a reconnect storm.
    /// </summary>
    internal sealed class BusyListener : IDisposable
    {
        private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private readonly List<TcpClient> _fillers = [];

        private BusyListener()
        {
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _listener.Listen(1);
            Registration = TestServerDirectory.Registration($"busy-{Guid.NewGuid():N}"[..16], ((IPEndPoint)_listener.LocalEndPoint!).Port);
        }

        public CimAspire.ZooKeeper.Registry.ServerRegistration Registration { get; }

        public static async Task<BusyListener> StartAsync()
        {
            var busy = new BusyListener();
            // Connect until one gets no answer: from then on the queue is full.
            for (var i = 0; i < 64; i++)
            {
                var filler = new TcpClient();
                busy._fillers.Add(filler);
                try
                {
                    await filler.ConnectAsync(IPAddress.Loopback, busy.Registration.Port).WaitAsync(TimeSpan.FromMilliseconds(300));
                }
                catch (TimeoutException)
                {
                    return busy;
                }
            }

            busy.Dispose();
            throw new InvalidOperationException("The listen queue never filled up.");
        }

        public void Dispose()
        {
            foreach (var filler in _fillers)
            {
                filler.Dispose();
            }

            _listener.Dispose();
        }
    }
}
