using Distributed.Gateway.Configuration;
using Distributed.Grains.Abstractions;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Pools;

/// <summary>
/// The gateway's only regular traffic to the cluster: every <see cref="BalancerOptions.ReportInterval"/> it reports
/// each pool's in-flight counts to the pool grain and adopts the snapshot it gets back. Calls per second are
/// pools / interval, whatever the request rate.
/// </summary>
internal sealed partial class ClusterLoadReporter(
    PoolRegistry pools,
    IGrainFactory grains,
    ClusterConnectivity connectivity,
    IOptions<BalancerOptions> options,
    TimeProvider time,
    ILogger<ClusterLoadReporter> logger) : BackgroundService
{
    private readonly BalancerOptions _options = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await SeedAsync(stoppingToken);
        using var timer = new PeriodicTimer(_options.ReportInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            foreach (var pool in pools.All)
            {
                await ReportAsync(pool, stoppingToken);
            }
        }
    }

    /// <summary>
    /// Stops reporting (after the web server stopped, so no request is in flight), then releases this gateway's lease in
    /// every pool: its counts leave the snapshots at once instead of when the lease runs out.
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await Task.WhenAll(pools.All.Select(async pool =>
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(_options.ClusterCallTimeout);
                await grains.GetGrain<IPoolGrain>(pool.Name).ReleaseLeaseAsync(pools.GatewayId, timeout.Token).WaitAsync(timeout.Token);
                LogLeaseReleased(logger, pool.Name);
            }
            catch (Exception ex)
            {
                LogLeaseNotReleased(logger, pool.Name, _options.EffectiveReportLease, ex);
            }
        }));
    }

    // The registry is seeded from this gateway's configuration unless the cluster already has one for the pool.
    private async Task SeedAsync(CancellationToken stoppingToken)
    {
        foreach (var pool in pools.All)
        {
            var delay = TimeSpan.FromMilliseconds(200);
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                    timeout.CancelAfter(_options.ClusterCallTimeout);
                    var snapshot = await grains.GetGrain<IPoolGrain>(pool.Name).InitializeAsync(pool.Seed, pool.Settings, timeout.Token).WaitAsync(timeout.Token);
                    pool.Apply(snapshot, [], time.GetUtcNow());
                    LogSeeded(logger, pool.Name, snapshot.Backends.Length, snapshot.RegistryVersion);
                    break;
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    LogSeedFailed(logger, pool.Name, delay, ex);
                    await Task.Delay(delay, time, stoppingToken);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
                }
            }
        }
    }

    private async Task ReportAsync(PoolRuntime pool, CancellationToken stoppingToken)
    {
        var load = pool.CaptureLoad();
        try
        {
            // An unanswered report must not hold up the next ones: an Orleans client otherwise waits its whole
            // ResponseTimeout (30 s) for a call to a silo that died.
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            timeout.CancelAfter(_options.ClusterCallTimeout);
            var report = new LoadReport(pools.GatewayId, load, _options.EffectiveReportLease, connectivity.IsDegraded);
            var snapshot = await grains.GetGrain<IPoolGrain>(pool.Name).ReportAsync(report, timeout.Token).WaitAsync(timeout.Token);
            pool.Apply(snapshot, load, time.GetUtcNow());
            connectivity.ReportSucceeded();
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            // Keep routing from the last snapshot (fail-static); the next tick tries again.
            connectivity.ReportFailed();
            LogReportFailed(logger, pool.Name, ex);
        }
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Pool {Pool}: registry has {Backends} backends (version {Version}).")]
    private static partial void LogSeeded(ILogger logger, string pool, int backends, long version);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Pool {Pool}: cluster not reachable to seed the registry; routing from configuration, retrying in {Delay}.")]
    private static partial void LogSeedFailed(ILogger logger, string pool, TimeSpan delay, Exception exception);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "Pool {Pool}: load report failed; routing from the last snapshot.")]
    private static partial void LogReportFailed(ILogger logger, string pool, Exception exception);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information, Message = "Pool {Pool}: load lease released; this gateway's counts left the snapshot.")]
    private static partial void LogLeaseReleased(ILogger logger, string pool);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Warning, Message = "Pool {Pool}: could not release the load lease; this gateway's counts leave the snapshot when it runs out ({Lease}).")]
    private static partial void LogLeaseNotReleased(ILogger logger, string pool, TimeSpan lease, Exception exception);
}
