using CimAspire.ImServer.Sessions;
using DotNetty.Transport.Channels;

namespace CimAspire.ImServer.Transport;

/// <summary>Builds a connection's pipeline: idle detection, framing with a size limit, envelope codec, protocol.</summary>
public sealed class ImServerPipeline(ConnectionServices services, ILoggerFactory loggers)
{
    public void Configure(IChannelPipeline pipeline)
    {
        var options = services.Options;
        pipeline.AddLast("idle", new ReadIdleHandler(options.IdleTimeout));
        pipeline.AddLast("framing", new VarintFrameDecoder(options.MaxFrameBytes));
        pipeline.AddLast("decoder", new EnvelopeDecoder());
        pipeline.AddLast("encoder", new EnvelopeEncoder());
        pipeline.AddLast("handler", new ConnectionHandler(services, loggers.CreateLogger<ConnectionHandler>()));
    }
}
