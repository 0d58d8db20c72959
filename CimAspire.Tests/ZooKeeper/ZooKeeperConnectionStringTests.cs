using CimAspire.ZooKeeper;

namespace CimAspire.Tests.ZooKeeper;

public class ZooKeeperConnectionStringTests
{
    [Fact]
    public void Parses_hosts_default_port_ipv6_and_chroot()
    {
        var parsed = ZooKeeperConnectionString.Parse(" zk1:2182, zk2 ,[::1]:2183/app/im/ ");
        Assert.Equal([("zk1", 2182), ("zk2", 2181), ("::1", 2183)], parsed.Hosts.Select(h => (h.Host, h.Port)));
        Assert.Equal("/app/im", parsed.Chroot);
        Assert.Null(ZooKeeperConnectionString.Parse("127.0.0.1:2181/").Chroot);
    }

    [Theory]
    [InlineData("")]
    [InlineData(",")]
    [InlineData("host:")]
    [InlineData("host:0")]
    [InlineData("host:65536")]
    [InlineData("host:-1")]
    [InlineData(":2181")]
    [InlineData("[::1:2181")]
    public void Rejects_malformed_connection_strings(string text)
    {
        Assert.Throws<FormatException>(() => ZooKeeperConnectionString.Parse(text));
    }

    [Theory]
    [InlineData("host:2181/a//b")]
    [InlineData("host:2181/a/./b")]
    public void Rejects_an_invalid_chroot(string text)
    {
        Assert.Throws<ArgumentException>(() => ZooKeeperConnectionString.Parse(text));
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/a")]
    [InlineData("/a/b-1.c")]
    public void Accepts_valid_paths(string path)
    {
        PathValidation.Validate(path, "path");
    }

    [Theory]
    [InlineData("")]
    [InlineData("a")]
    [InlineData("/a/")]
    [InlineData("/a//b")]
    [InlineData("/a/..")]
    [InlineData("/a/\u0001")]
    [InlineData("/a/\ufff5")]
    public void Rejects_invalid_paths(string path)
    {
        Assert.Throws<ArgumentException>(() => PathValidation.Validate(path, "path"));
    }

    [Fact]
    public void A_sequential_create_may_end_with_a_slash()
    {
        PathValidation.Validate("/a/", "path", sequential: true);
    }
}
