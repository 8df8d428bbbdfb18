using Distributed.Grains.Abstractions;
using Microsoft.Extensions.Logging;

namespace Distributed.Grains.Health;

/// <summary>
/// The one active prober of a backend for the whole cluster: a grain timer sends <c>GET {address}{path}</c> every
/// interval and, once Rise passes or Fall failures in a row gave it a verdict (<see cref="ProbeCounter"/>), reports it
/// to the pool grain after every probe. However many gateways run, the backend sees one probe per interval. The pool
/// grain renews a lease on it; a prober it stopped asking for (backend removed, probing off) stops by itself.
/// </summary>
public sealed partial class BackendProbeGrain(ProbeHttpClients httpClients, ILogger<BackendProbeGrain> logger) : Grain, IBackendProbeGrain
{
    /// <summary>Name of the HttpClient the silo configures for probes of backends the operating system's store vouches for.</summary>
    public const string HttpClientName = "distributed-probes";

    private readonly ProbeCounter _counter = new();
    private string? _address;
    private ActiveHealthSettings? _settings;
    private IGrainTimer? _timer;

    // Probes left before the lease runs out: counted in probes, so no clock is needed beside the timer's own.
    private long _probesLeft;

    private (string Pool, string BackendId) Key => GrainKeys.Parse(this.GetPrimaryKeyString());

    /// <inheritdoc />
    public Task EnsureProbingAsync(string address, ActiveHealthSettings settings, TimeSpan lease)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _probesLeft = Math.Max(1, (long)Math.Ceiling(lease / settings.Interval));
        if (address == _address && settings == _settings && _timer is not null)
        {
            return Task.CompletedTask;
        }

        if (address != _address)
        {
            _counter.Reset(); // probes of the old address say nothing about the new one
        }

        _address = address;
        _settings = settings;
        _timer?.Dispose();
        _timer = this.RegisterGrainTimer(ProbeAsync, new GrainTimerCreationOptions(TimeSpan.Zero, settings.Interval) { KeepAlive = true });
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task StopAsync()
    {
        _timer?.Dispose();
        _timer = null;
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    private async Task ProbeAsync(CancellationToken cancellationToken)
    {
        if (_address is not { } address || _settings is not { } settings)
        {
            return;
        }

        if (--_probesLeft < 0)
        {
            LogLeaseExpired(logger, Key.Pool, Key.BackendId);
            await StopAsync();
            return;
        }

        var passed = false;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(settings.Timeout);
            if (httpClients.For(settings) is { } client)
            {
                using var response = await client.GetAsync(new Uri(new Uri(address), settings.Path), HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                passed = response.IsSuccessStatusCode;
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            passed = false;
        }

        if (_counter.Record(passed, settings))
        {
            var up = _counter.Healthy == true;
            LogVerdict(logger, up ? LogLevel.Information : LogLevel.Warning, Key.Pool, Key.BackendId, up ? "healthy" : "unhealthy", _counter.Streak);
        }

        // Sent after every probe once there is a verdict (one-way, idempotent), so a verdict lost in transit or a pool
        // grain that moved is corrected on the next probe. Without a verdict there is nothing to say.
        if (_counter.Healthy is { } healthy)
        {
            await GrainFactory.GetGrain<IPoolGrain>(Key.Pool).ReportProbeAsync(Key.BackendId, address, healthy);
        }
    }

    [LoggerMessage(EventId = 5001, Message = "Pool {Pool}: prober says backend {Backend} is {Verdict} after {Count} probe(s) in a row.")]
    private static partial void LogVerdict(ILogger logger, LogLevel level, string pool, string backend, string verdict, int count);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "Pool {Pool}: prober of backend {Backend} stops: the pool no longer renews it (backend removed or probing off).")]
    private static partial void LogLeaseExpired(ILogger logger, string pool, string backend);
}
