using System.ComponentModel;
using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CimAspire.AppHost.Infrastructure;

/// <summary>
/// The choice between containers and local executables, made once per run, and the run's data folder
/// that local executables keep their files in.
/// </summary>
public sealed class CimInfrastructure
{
    public const string ModeKey = "Cim:Infrastructure";
    public const string DataDirectoryKey = "Cim:DataDirectory";

    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    private readonly Lock _gate = new();
    private readonly string? _configuredDataDirectory;
    private string? _dataDirectory;

    private CimInfrastructure(InfrastructureMode mode, string? configuredDataDirectory)
    {
        Mode = mode;
        _configuredDataDirectory = configuredDataDirectory;
    }

    /// <summary><see cref="InfrastructureMode.Container"/> or <see cref="InfrastructureMode.Local"/>, never Auto.</summary>
    public InfrastructureMode Mode { get; }

    public bool IsLocal => Mode == InfrastructureMode.Local;

    /// <summary>
    /// The folder local executables keep their data in: <c>Cim:DataDirectory</c> when configured (kept after the run),
    /// else a fresh temporary folder created on first use and deleted when the AppHost stops.
    /// Created lazily so that building the model alone (tests, publish) leaves nothing behind.
    /// </summary>
    public string GetDataDirectory(string resourceName)
    {
        lock (_gate)
        {
            _dataDirectory ??= _configuredDataDirectory is { Length: > 0 } configured
                ? Directory.CreateDirectory(configured).FullName
                : Directory.CreateTempSubdirectory("cimaspire-").FullName;
        }

        return Directory.CreateDirectory(Path.Combine(_dataDirectory, resourceName)).FullName;
    }

    internal static CimInfrastructure Create(IDistributedApplicationBuilder builder)
    {
        var configured = builder.Configuration[ModeKey];
        var requested = string.IsNullOrWhiteSpace(configured)
            ? InfrastructureMode.Auto
            : Enum.TryParse<InfrastructureMode>(configured, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed)
                ? parsed
                : throw new InvalidOperationException(
                    $"Configuration '{ModeKey}' is '{configured}'; use one of: auto, container, local.");

        var mode = requested switch
        {
            InfrastructureMode.Auto => ContainerRuntimeAnswers(builder.Configuration) ? InfrastructureMode.Container : InfrastructureMode.Local,
            _ => requested,
        };

        var infrastructure = new CimInfrastructure(mode, builder.Configuration[DataDirectoryKey]);
        if (infrastructure.IsLocal)
        {
            builder.Eventing.Subscribe<BeforeStartEvent>((e, _) =>
            {
                LocalExecutables.EnsureInstalled(builder.Configuration);
                e.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopped.Register(infrastructure.DeleteTemporaryData);
                return Task.CompletedTask;
            });
        }

        return infrastructure;
    }

    private void DeleteTemporaryData()
    {
        string? directory;
        lock (_gate)
        {
            directory = _configuredDataDirectory is { Length: > 0 } ? null : _dataDirectory;
        }

        if (directory is null)
        {
            return;
        }

        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A leftover temp folder is harmless; failing the shutdown over it is not.
        }
    }

    /// <summary>Asks the configured runtime (or docker, then podman) for <c>info</c>; a daemon that answers means containers work.</summary>
    private static bool ContainerRuntimeAnswers(IConfiguration configuration)
    {
        string[] runtimes = configuration["ASPIRE_CONTAINER_RUNTIME"] is { Length: > 0 } chosen ? [chosen] : ["docker", "podman"];
        return runtimes.Any(Answers);

        static bool Answers(string runtime)
        {
            var info = new ProcessStartInfo(runtime, "info")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            try
            {
                using var process = Process.Start(info);
                if (process is null)
                {
                    return false;
                }

                process.OutputDataReceived += (_, _) => { };
                process.ErrorDataReceived += (_, _) => { };
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                if (!process.WaitForExit(ProbeTimeout))
                {
                    process.Kill(entireProcessTree: true);
                    return false;
                }

                return process.ExitCode == 0;
            }
            catch (Win32Exception)
            {
                // Not installed.
                return false;
            }
        }
    }
}

public static class CimInfrastructureExtensions
{
    /// <summary>Decides once per run whether Redis and ZooKeeper run as containers or local executables.</summary>
    public static CimInfrastructure AddCimInfrastructure(this IDistributedApplicationBuilder builder) =>
        CimInfrastructure.Create(builder);
}
