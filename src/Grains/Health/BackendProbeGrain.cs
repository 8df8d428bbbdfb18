using Distributed.Grains.Abstractions;
using Microsoft.Extensions.Logging;

namespace Distributed.Grains.Health;

/// <summary>
/// The one active prober of a backend for the whole cluster: a grain timer sends <c>GET {address}{path}</c> every
/// interval and the verdict (after Rise/Fall) goes to the pool grain. However many gateways run, the backend sees one
/// probe per interval.
/// </summary>
public sealed partial class BackendProbeGrain(IHttpClientFactory httpClients, ILogger<BackendProbeGrain> logger) : Grain, IBackendProbeGrain
{
    /// <summary>Name of the HttpClient the silo configures for probes.</summary>
    public const string HttpClientName = "distributed-probes";

    private string? _address;
    private ActiveHealthSettings? _settings;
    private IGrainTimer? _timer;
    private int _successes;
    private int _failures;
    private bool _healthy = true;

    private (string Pool, string BackendId) Key
    {
        get
        {
            var key = this.GetPrimaryKeyString();
            var slash = key.IndexOf('/', StringComparison.Ordinal);
            return (key[..slash], key[(slash + 1)..]);
        }
    }

    /// <inheritdoc />
    public Task EnsureProbingAsync(string address, ActiveHealthSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (address == _address && settings == _settings && _timer is not null)
        {
            return Task.CompletedTask;
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
        if (_address is null || _settings is not { } settings)
        {
            return;
        }

        var ok = false;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(settings.Timeout);
            var client = httpClients.CreateClient(HttpClientName);
            using var response = await client.GetAsync(new Uri(new Uri(_address), settings.Path), HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            ok = response.IsSuccessStatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            ok = false;
        }

        if (ok)
        {
            (_successes, _failures) = (_successes + 1, 0);
        }
        else
        {
            (_successes, _failures) = (0, _failures + 1);
        }

        var verdict = _healthy ? _failures < settings.Fall : _successes >= settings.Rise;
        if (verdict != _healthy)
        {
            _healthy = verdict;
            LogVerdict(logger, Key.Pool, Key.BackendId, verdict ? "healthy" : "unhealthy", ok ? _successes : _failures);
        }

        // Sent after every probe (one-way, idempotent), so a verdict lost in transit or a restarted pool grain is
        // corrected on the next probe.
        await GrainFactory.GetGrain<IPoolGrain>(Key.Pool).ReportProbeAsync(Key.BackendId, _healthy);
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "Pool {Pool}: backend {Backend} is now {Verdict} after {Count} probe(s) in a row.")]
    private static partial void LogVerdict(ILogger logger, string pool, string backend, string verdict, int count);
}
