using System.Net;
using System.Net.Sockets;

namespace CimAspire.Tests.Infrastructure;

public static class TestPorts
{
    /// <summary>A TCP port on loopback that was free a moment ago (the OS picks it).</summary>
    public static int GetFreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
