using CimAspire.Benchmarks;
using CimAspire.Benchmarks.Cli;

namespace CimAspire.Tests.Benchmarks;

public class OptionsParserTests
{
    [Fact]
    public void ParsesEveryOption()
    {
        var o = OptionsParser.Parse(
        [
            "--scenario", "transient,persisted", "-s", "chaos-redis", "--connections", "200", "--window", "32", "--payload", "64",
            "--duration", "10s", "--rate", "5000", "--quick", "--json", "out.json", "--target", "http://127.0.0.1:5000",
            "--token-key", "k", "--redis", "127.0.0.1:6379", "--addresses", "4", "--time-limit", "2m",
        ]);

        Assert.Equal(["transient", "persisted", "chaos-redis"], o.Scenarios);
        Assert.Equal(200, o.Connections);
        Assert.Equal(32, o.Window);
        Assert.Equal(64, o.Payload);
        Assert.Equal(TimeSpan.FromSeconds(10), o.Duration);
        Assert.Equal(5000, o.Rate);
        Assert.True(o.Quick);
        Assert.Equal("out.json", o.JsonPath);
        Assert.Equal(new Uri("http://127.0.0.1:5000"), o.Target);
        Assert.Equal("k", o.TokenKey);
        Assert.Equal("127.0.0.1:6379", o.Redis);
        Assert.Equal(4, o.LoopbackAddresses);
        Assert.Equal(TimeSpan.FromMinutes(2), o.TimeLimit);
    }

    [Fact]
    public void DefaultsToEveryScenarioAndExpandsGroups()
    {
        Assert.Equal(ScenarioNames.Default, OptionsParser.Parse([]).Scenarios);
        Assert.Equal(ScenarioNames.Chaos, OptionsParser.Parse(["-s", "chaos"]).Scenarios);
        Assert.Equal(["signalr", "transient"], OptionsParser.Parse(["-s", "signalr,transient,signalr"]).Scenarios);
    }

    [Fact]
    public void SizesFallBackToTheScenarioDefaultsFullOrQuick()
    {
        var full = OptionsParser.Parse([]);
        var quick = OptionsParser.Parse(["--quick"]);
        var sized = OptionsParser.Parse(["--quick", "--connections", "6"]);
        Assert.Equal(200, full.ConnectionsOr(200, 20));
        Assert.Equal(20, quick.ConnectionsOr(200, 20));
        Assert.Equal(6, sized.ConnectionsOr(200, 20));
    }

    [Theory]
    [InlineData("--scenario", "nope", "Unknown scenario 'nope'")]
    [InlineData("--connections", "1", "--connections must be a whole number of at least 2")]
    [InlineData("--payload", "8", "--payload must be a whole number of at least 20")]
    [InlineData("--duration", "soon", "--duration must be a positive time")]
    [InlineData("--target", "http://10.1.2.3:5000", "loopback")]
    [InlineData("--target", "ftp://127.0.0.1", "http(s) URL")]
    [InlineData("--redis", "10.0.0.1:6379", "loopback host:port")]
    [InlineData("--addresses", "300", "from 1 to 254")]
    public void RefusesBadValuesWithAClearMessage(string option, string value, string expected)
    {
        var e = Assert.Throws<OptionsException>(() => OptionsParser.Parse([option, value]));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RefusesUnknownOptionsAndMissingValues()
    {
        Assert.Contains("Unknown option", Assert.Throws<OptionsException>(() => OptionsParser.Parse(["--fast"])).Message, StringComparison.Ordinal);
        Assert.Contains("needs a value", Assert.Throws<OptionsException>(() => OptionsParser.Parse(["--window"])).Message, StringComparison.Ordinal);
        Assert.Contains("needs a value", Assert.Throws<OptionsException>(() => OptionsParser.Parse(["--window", "--quick"])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadOptionsExitWithCodeTwoAndSayWhy()
    {
        using var output = new StringWriter();
        var code = await BenchmarkProgram.RunAsync(["--window", "0"], output).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(BenchmarkProgram.ExitBadOptions, code);
        Assert.Contains("--window must be a whole number", output.ToString(), StringComparison.Ordinal);
    }
}
