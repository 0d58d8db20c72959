using System.Net.Sockets;
using System.Text;

namespace CimAspire.AppHost.Infrastructure;

/// <summary>Sends one plain-text command to a TCP server (ZooKeeper's four-letter words, Redis inline commands) and returns the answer.</summary>
internal static class TcpTextCommand
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <param name="hostAndPort">A connection string of the shape <c>host:port</c>.</param>
    /// <param name="readToEnd">Read until the server closes (ZooKeeper does after a four-letter word), else read one reply.</param>
    public static async Task<string> SendAsync(string hostAndPort, string command, bool readToEnd, CancellationToken cancellationToken)
    {
        var separator = hostAndPort.LastIndexOf(':');
        if (separator <= 0 || !int.TryParse(hostAndPort.AsSpan(separator + 1), out var port))
        {
            throw new FormatException($"'{hostAndPort}' is not of the shape host:port.");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        using var client = new TcpClient();
        await client.ConnectAsync(hostAndPort[..separator], port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command), timeout.Token);

        var answer = new StringBuilder();
        var buffer = new byte[4096];
        int read;
        while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
        {
            answer.Append(Encoding.ASCII.GetString(buffer, 0, read));
            if (!readToEnd && answer.ToString().Contains('\n'))
            {
                break;
            }
        }

        return answer.ToString();
    }
}
