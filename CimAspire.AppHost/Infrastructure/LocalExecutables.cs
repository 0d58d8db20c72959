using Microsoft.Extensions.Configuration;

namespace CimAspire.AppHost.Infrastructure;

/// <summary>Where the local executables are, and one clear error when they are not installed.</summary>
public static class LocalExecutables
{
    /// <summary>Local servers listen here only: the cluster is for this machine.</summary>
    public const string LoopbackAddress = "127.0.0.1";

    public const string InstallCommand = "sudo apt-get install -y redis-server zookeeper";
    public const string ZooKeeperClassPathKey = "Cim:ZooKeeper:ClassPath";

    /// <summary>Debian's zookeeper package puts the server jar here; its manifest names the jars it needs.</summary>
    public const string DefaultZooKeeperClassPath = "/usr/share/java/zookeeper.jar";

    public static string ZooKeeperClassPath(IConfiguration configuration) =>
        configuration[ZooKeeperClassPathKey] is { Length: > 0 } classPath ? classPath : DefaultZooKeeperClassPath;

    internal static void EnsureInstalled(IConfiguration configuration)
    {
        var missing = new List<string>();
        if (FindOnPath("redis-server") is null)
        {
            missing.Add("redis-server");
        }

        if (FindOnPath("java") is null)
        {
            missing.Add("java");
        }

        var classPath = ZooKeeperClassPath(configuration);
        if (!classPath.Split(Path.PathSeparator).All(File.Exists))
        {
            missing.Add($"ZooKeeper ({classPath})");
        }

        if (missing.Count > 0)
        {
            throw new InvalidOperationException(
                $"Local infrastructure is missing: {string.Join(", ", missing)}. Install it with: {InstallCommand} " +
                $"(or run ./start.sh, which does), or run with containers: {CimInfrastructure.ModeKey}=container.");
        }
    }

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(File.Exists);
}
