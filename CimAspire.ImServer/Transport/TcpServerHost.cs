using System.Net;
using CimAspire.Delivery.Dispatch;
using CimAspire.Delivery.Routes;
using CimAspire.ImServer.Delivery;
using CimAspire.ImServer.Registry;
using CimAspire.ImServer.Sessions;
using CimAspire.Protocol;
using CimAspire.ZooKeeper.Registry;
using DotNetty.Common;
using DotNetty.Transport.Bootstrapping;
using DotNetty.Transport.Channels;
using DotNetty.Transport.Channels.Sockets;
using Microsoft.Extensions.Options;

namespace CimAspire.ImServer.Transport;

/// <summary>
/// Runs the DotNetty TCP listener. Start: bind, listen on this server's inbox, announce in the registry, report load.
/// Stop (or a drain request): withdraw from the registry first, tell every client to go (Kick DRAINING), close,
/// wait for sessions to release their routes, then stop listening.
/// </summary>
public sealed partial class TcpServerHost(
    ImServerPipeline pipeline,
    ServerIdentity identity,
    SessionRegistry sessions,
    LocalDelivery localDelivery,
    ServerInbox inbox,
    RouteStore routes,
    IServerAnnouncer announcer,
    IOptions<ImServerOptions> options,
    TimeProvider time,
    ILogger<TcpServerHost> logger) : IHostedService, IAsyncDisposable
{
    /// <summary>The runtime's switch that runs socket completions on the socket engine's thread (see Program.cs).</summary>
    public const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    private const string LeakDetectionVariable = "io.netty.leakDetection.level";

    private readonly ImServerOptions _options = options.Value;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _drainGate = new(1, 1);
    private MultithreadEventLoopGroup? _boss;
    private MultithreadEventLoopGroup? _workers;
    private IChannel? _listener;
    private IAsyncDisposable? _inboxSubscription;
    private Task? _loadReporter;
    private bool _drained;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // DotNetty samples buffer allocations for leak reports, each with a stack trace: measurable on the write path
        // (docs/benchmarks.md). Off unless asked for with the variable DotNetty reads.
        if (Environment.GetEnvironmentVariable(LeakDetectionVariable) is null)
        {
            ResourceLeakDetector.Level = ResourceLeakDetector.DetectionLevel.Disabled;
        }

        _boss = new MultithreadEventLoopGroup(1);
        // DotNetty's default is two loops per core; each loop spins before it sleeps and a frame relayed between
        // connections on different loops costs a wake-up, so one loop per core did more work per CPU second here.
        _workers = new MultithreadEventLoopGroup(_options.WorkerThreads > 0 ? _options.WorkerThreads : Environment.ProcessorCount);
        var bootstrap = new ServerBootstrap()
            .Group(_boss, _workers)
            .Channel<TcpServerSocketChannel>()
            // Room for a reconnect storm: when the accept queue is full the kernel drops connects, and clients retry only
            // after 1, 3, 7 s (SYN retransmits). The kernel caps it at net.core.somaxconn.
            .Option(ChannelOption.SoBacklog, 8192)
            .ChildOption(ChannelOption.TcpNodelay, true)
            .ChildOption(ChannelOption.SoKeepalive, true)
            .ChildOption(ChannelOption.WriteBufferHighWaterMark, _options.MaxPendingOutboundBytes)
            .ChildOption(ChannelOption.WriteBufferLowWaterMark, _options.MaxPendingOutboundBytes / 2)
            // Each connection keeps a receive buffer posted while it waits; frames are small, so start with 512 bytes
            // instead of 1 KB (it still grows for bigger reads): idle connections are most of a server's connections.
            .ChildOption(ChannelOption.RcvbufAllocator, new AdaptiveRecvByteBufAllocator(64, 512, 65536))
            .ChildHandler(new ActionChannelInitializer<IChannel>(channel => pipeline.Configure(channel.Pipeline)));

        var address = IPAddress.Parse(_options.BindAddress);
        _listener = await bootstrap.BindAsync(address, _options.Port);
        identity.Port = ((IPEndPoint)_listener.LocalAddress).Port;
        LogListening(identity.Id, _listener.LocalAddress.ToString() ?? "?", identity.AdvertisedHost, identity.Port);

        localDelivery.DrainRequested += OnDrainRequested;
        // Pushes published while the subscription was down are lost: once it is live again, every client syncs.
        _inboxSubscription = await inbox.SubscribeAsync(
            identity.Id,
            batch =>
            {
                foreach (var item in batch.Items)
                {
                    localDelivery.Deliver(item);
                }
            },
            resumed: () => sessions.HintEveryone(SyncHint.Types.Reason.SubscriptionRestored),
            cancellationToken);

        await routes.ReportLoadAsync(identity.Id, 0, cancellationToken);
        await announcer.AnnounceAsync(new ServerRegistration(
            identity.Id, identity.AdvertisedHost, identity.Port, null, ServerIdentity.Version, identity.StartedAt, Environment.ProcessId),
            cancellationToken);
        _loadReporter = ReportLoadAsync(_stopping.Token);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await DrainAsync(cancellationToken);
        await _stopping.CancelAsync();
        if (_loadReporter is not null)
        {
            await _loadReporter;
        }

        localDelivery.DrainRequested -= OnDrainRequested;
        if (_inboxSubscription is not null)
        {
            await _inboxSubscription.DisposeAsync();
        }

        if (_listener is not null)
        {
            await _listener.CloseAsync();
        }

        try
        {
            await routes.RemoveLoadAsync(identity.Id, cancellationToken);
        }
        catch (Exception ex)
        {
            LogCleanupFailed(ex);
        }

        await ShutdownLoopsAsync();
    }

    /// <summary>Leaves the registry and sends every client away; the listener stays open until stop.</summary>
    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        await _drainGate.WaitAsync(cancellationToken);
        try
        {
            if (_drained)
            {
                return;
            }

            _drained = true;
            // Withdrawing makes the route API remove this server's routes: they must not be claimed back.
            sessions.StopReclaiming();
            try
            {
                await announcer.WithdrawAsync(cancellationToken);
                // A least-connections router that still lists this server must not pick it while it drains.
                await routes.ReportLoadAsync(identity.Id, int.MaxValue, cancellationToken);
            }
            catch (Exception ex)
            {
                LogCleanupFailed(ex);
            }

            var kick = new Kick { Reason = Kick.Types.Reason.Draining, Message = "The server is shutting down; log in again." };
            var connections = sessions.Connections.ToList();
            LogDraining(identity.Id, connections.Count);
            foreach (var connection in connections)
            {
                if (connection.IsLoggedIn)
                {
                    connection.Kick(kick);
                }
                else
                {
                    connection.Fail(ErrorCode.Unavailable, "The server is shutting down.");
                }
            }

            // Sessions release their routes as their connections close; wait for that, within the drain timeout.
            var released = Task.WhenAll(connections.Select(c => c.Completion));
            try
            {
                await released.WaitAsync(_options.DrainTimeout, time, cancellationToken);
            }
            catch (TimeoutException)
            {
                LogDrainTimedOut(identity.Id, connections.Count(c => !c.Completion.IsCompleted));
            }
        }
        finally
        {
            _drainGate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ShutdownLoopsAsync();
        _stopping.Dispose();
    }

    private void OnDrainRequested() => _ = Task.Run(() => DrainAsync(CancellationToken.None));

    private async Task ShutdownLoopsAsync()
    {
        // Every connection is closed by now (drained or cut), so no quiet period: with one, DotNetty 0.7.6's loops never
        // looked quiet and each group used its whole timeout (4 s of a stop that a process manager allows only seconds).
        var quiet = TimeSpan.Zero;
        var timeout = TimeSpan.FromMilliseconds(500);
        var groups = new[] { _boss, _workers };
        _boss = null;
        _workers = null;
        await Task.WhenAll(groups.OfType<MultithreadEventLoopGroup>().Select(group => group.ShutdownGracefullyAsync(quiet, timeout)));
    }

    private async Task ReportLoadAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.LoadReportInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                try
                {
                    await routes.ReportLoadAsync(identity.Id, _drained ? int.MaxValue : sessions.ConnectionCount, cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogCleanupFailed(ex);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "IM server {ServerId} listening on {Bound}, advertised as {Host}:{Port}")]
    private partial void LogListening(string serverId, string bound, string host, int port);

    [LoggerMessage(Level = LogLevel.Information, Message = "IM server {ServerId} draining {Count} connections")]
    private partial void LogDraining(string serverId, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "IM server {ServerId}: {Count} connections did not close within the drain timeout")]
    private partial void LogDrainTimedOut(string serverId, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A registry or load update failed")]
    private partial void LogCleanupFailed(Exception exception);
}
