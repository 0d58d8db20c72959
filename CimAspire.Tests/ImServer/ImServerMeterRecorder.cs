using System.Diagnostics.Metrics;
using CimAspire.ImServer.Telemetry;
using Microsoft.Extensions.DependencyInjection;

namespace CimAspire.Tests.ImServer;

/// <summary>
/// Records what one in-process IM server measures on its meter <c>CimAspire.ImServer</c>. Servers of tests running in
/// parallel have meters of the same name from their own meter factories, so only this server's meter instance counts.
/// </summary>
public sealed class ImServerMeterRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly List<(string Instrument, string? Tag, double Value)> _measurements = [];

    public ImServerMeterRecorder(ImServerInstance server)
    {
        // The factory hands out the instance it already created for this name: the one ImServerTelemetry records on.
        var meter = server.Services.GetRequiredService<IMeterFactory>().Create(ImServerTelemetry.Name);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, meter))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>The sum of an instrument's measurements, of those with the tag value when one is given.</summary>
    public double Sum(string instrument, string? tag = null) => Values(instrument, tag).Sum();

    /// <summary>Every measurement of an instrument (with the tag value when one is given), in order.</summary>
    public IReadOnlyList<double> Values(string instrument, string? tag = null)
    {
        lock (_measurements)
        {
            return [.. _measurements.Where(m => m.Instrument == instrument && (tag is null || m.Tag == tag)).Select(m => m.Value)];
        }
    }

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        // Every IM server instrument has at most one tag (type, result or code).
        var tag = tags.Length > 0 ? tags[0].Value?.ToString() : null;
        lock (_measurements)
        {
            _measurements.Add((instrument.Name, tag, value));
        }
    }
}
