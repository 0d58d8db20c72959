using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace CimAspire.ZooKeeper;

/// <summary>The client's ActivitySource and Meter, both named <see cref="Name"/>.</summary>
public static class ZooKeeperTelemetry
{
    /// <summary>The name of the ActivitySource and the Meter.</summary>
    public const string Name = "CimAspire.ZooKeeper";

    internal static readonly ActivitySource ActivitySource = new(Name);

    internal static readonly Meter Meter = new(Name);

    internal static readonly Counter<long> Operations = Meter.CreateCounter<long>(
        "cim.zookeeper.operations", "{operation}", "ZooKeeper requests completed, by op and outcome (ok or the error code).");

    internal static readonly Histogram<double> OperationDuration = Meter.CreateHistogram<double>(
        "cim.zookeeper.operation.duration", "s", "Time from sending a ZooKeeper request to its reply.");

    internal static readonly Counter<long> StateChanges = Meter.CreateCounter<long>(
        "cim.zookeeper.state_changes", "{change}", "Connection state changes, by new state (connected, disconnected, expired, closed).");
}
