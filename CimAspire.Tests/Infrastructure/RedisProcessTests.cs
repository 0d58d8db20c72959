using System.Net.Sockets;
using System.Text;

namespace CimAspire.Tests.Infrastructure;

public class RedisProcessTests
{
    [Fact]
    public async Task StartsARedisThatAnswersAndStopsIt()
    {
        int port;
        await using (var redis = await RedisProcess.StartAsync())
        {
            port = redis.Port;
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", port).WaitAsync(TimeSpan.FromSeconds(5));
            var stream = client.GetStream();
            await stream.WriteAsync("CONFIG GET appendonly\r\n"u8.ToArray());
            var buffer = new byte[128];
            var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
            Assert.Contains("yes", Encoding.ASCII.GetString(buffer, 0, read));
        }

        using var after = new TcpClient();
        await Assert.ThrowsAnyAsync<SocketException>(() => after.ConnectAsync("127.0.0.1", port).WaitAsync(TimeSpan.FromSeconds(5)));
    }
}
