using System.Net.Sockets;
using System.Text;

namespace CimAspire.Tests.Cluster;

/// <summary>Plain-text commands over TCP: ZooKeeper four-letter words and Redis inline commands, without a client library.</summary>
public static class TcpText
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <param name="hostAndPort">A connection string of the shape <c>host:port</c>.</param>
    /// <param name="readToEnd">Read until the server closes (ZooKeeper does after a four-letter word), else until <paramref name="complete"/> holds.</param>
    public static async Task<string> SendAsync(string hostAndPort, string command, bool readToEnd, Func<string, bool>? complete = null)
    {
        var separator = hostAndPort.LastIndexOf(':');
        var host = hostAndPort[..separator];
        var port = int.Parse(hostAndPort[(separator + 1)..]);
        using var cancellation = new CancellationTokenSource(Timeout);
        using var client = new TcpClient();
        await client.ConnectAsync(host, port, cancellation.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command), cancellation.Token);

        var answer = new StringBuilder();
        var buffer = new byte[4096];
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellation.Token)) > 0)
        {
            answer.Append(Encoding.ASCII.GetString(buffer, 0, read));
            if (!readToEnd && (complete ?? (text => text.EndsWith("\r\n", StringComparison.Ordinal)))(answer.ToString()))
            {
                break;
            }
        }

        return answer.ToString();
    }
}
