using System.Collections.Concurrent;
using Distributed.Gateway.Cluster;
using Distributed.Gateway.Configuration;
using Distributed.Gateway.Pools;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.History;

/// <summary>
/// Adds a point to every pool's history each second, from what the gateway already has: the pool snapshot it gets
/// every report interval (cluster-wide request rate and in-flight), its own per-backend counters (errors) and the
/// forwarding-latency histogram OpenTelemetry keeps (p99). Sessions per backend are counted every
/// <see cref="HistoryOptions.SessionsInterval"/>, apart, so a slow cluster never delays a point. Nothing here runs per
/// request.
/// </summary>
internal sealed partial class HistorySampler(
    PoolRegistry pools,
    HistoryStore store,
    IBackendLatencySource latency,
    IBackendSessionCounter sessions,
    IOptions<BalancerOptions> options,
    TimeProvider time,
    ILogger<HistorySampler> logger) : BackgroundService
{
    /// <summary>Time between points.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private static readonly IReadOnlyDictionary<HttpEndpoint, LatencyHistogram> NoLatency = new Dictionary<HttpEndpoint, LatencyHistogram>();
    private readonly BalancerOptions _options = options.Value;
    private bool _latencyFailing;

    private PeriodicTimer? _sampleTimer;
    private PeriodicTimer? _sessionsTimer;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (store.Enabled)
        {
            // Started here, not in ExecuteAsync (which may begin later on another thread): the first point comes one
            // interval after start, on the injected clock.
            _sampleTimer = new PeriodicTimer(Interval, time);
            _sessionsTimer = new PeriodicTimer(_options.History.SessionsInterval, time);
        }

        return base.StartAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _sampleTimer?.Dispose();
        _sessionsTimer?.Dispose();
        base.Dispose();
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        _sampleTimer is { } sampleTimer && _sessionsTimer is { } sessionsTimer
            ? Task.WhenAll(SampleAsync(sampleTimer, stoppingToken), CountSessionsAsync(sessionsTimer, stoppingToken))
            : Task.CompletedTask;

    private async Task SampleAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var latencies = await ReadLatencyAsync(stoppingToken);
            var now = time.GetUtcNow();
            foreach (var pool in pools.All)
            {
                var view = pool.View;
                // A snapshot older than a report lease no longer says what the cluster does: unknown, not frozen.
                var current = view.FromCluster && now - view.ReceivedAt <= _options.EffectiveReportLease;
                store.Find(pool.Name)?.Record(now, view, current, latencies);
            }
        }
    }

    private async Task<IReadOnlyDictionary<HttpEndpoint, LatencyHistogram>> ReadLatencyAsync(CancellationToken stoppingToken)
    {
        try
        {
            var latencies = await latency.ReadAsync(stoppingToken);
            _latencyFailing = false;
            return latencies;
        }
        catch (Exception ex)
        {
            // Points go on without p99 rather than stop; said once per run of failures (and not while stopping, when
            // the meter provider may be gone already).
            if (!_latencyFailing && !stoppingToken.IsCancellationRequested)
            {
                LogLatencyUnavailable(logger, ex);
                _latencyFailing = true;
            }

            return NoLatency;
        }
    }

    private async Task CountSessionsAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            foreach (var pool in pools.All)
            {
                var counts = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
                await Task.WhenAll(pool.View.Backends.Select(async backend =>
                {
                    try
                    {
                        using var timeout = new CancellationTokenSource(_options.ClusterCallTimeout, time);
                        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, timeout.Token);
                        counts[backend.Id] = await sessions.CountAsync(pool.Name, backend.Id, linked.Token);
                    }
                    catch (Exception ex)
                    {
                        // Unknown for this point; the load reporter already says when the cluster is unreachable.
                        LogSessionCountFailed(logger, pool.Name, backend.Id, ex);
                    }
                }));
                store.Find(pool.Name)?.RecordSessions(counts);
            }
        }
    }

    [LoggerMessage(EventId = 9001, Level = LogLevel.Warning, Message = "The history has no forwarding latency: the in-process Prometheus collection failed. Points go on without p99.")]
    private static partial void LogLatencyUnavailable(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 9002, Level = LogLevel.Debug, Message = "Pool {Pool}: could not count the sessions of backend {Backend} for the history.")]
    private static partial void LogSessionCountFailed(ILogger logger, string pool, string backend, Exception exception);
}
