using Distributed.Gateway.Configuration;
using Distributed.Gateway.Pools;
using Distributed.Grains.Abstractions;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Cluster;

/// <summary>
/// The gateway's only regular traffic to the cluster: every <see cref="BalancerOptions.ReportInterval"/> it reports
/// each pool's in-flight counts to the pool grain and adopts the snapshot it gets back. Calls per second are
/// pools / interval, whatever the request rate. Each pool has its own loop, so a pool grain that does not answer
/// delays no other pool's reports (and leases).
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

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(pools.All.Select(pool => Task.Run(() => RunAsync(pool, stoppingToken), stoppingToken)));

    private async Task RunAsync(PoolRuntime pool, CancellationToken stoppingToken)
    {
        // The report clock starts before seeding: once the pool's grain has been asked to seed, no moment of the clock
        // is missed (a tick that falls during a slow seed is kept and reported right after it). Tests that move a fake
        // clock once the pool is seeded rely on it.
        using var timer = new PeriodicTimer(_options.ReportInterval, time);
        await SeedAsync(pool, stoppingToken);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            await ReportAsync(pool, stoppingToken);
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

    // The backend catalog is seeded from this gateway's configuration unless the cluster already has one for the pool.
    private async Task SeedAsync(PoolRuntime pool, CancellationToken stoppingToken)
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
                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogSeedFailed(logger, pool.Name, delay, ex);
                await Task.Delay(delay, time, stoppingToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
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
            var grain = grains.GetGrain<IPoolGrain>(pool.Name);
            var snapshot = await grain.ReportAsync(report, timeout.Token).WaitAsync(timeout.Token);
            if (snapshot.Unseeded)
            {
                snapshot = await ReseedAsync(grain, pool, timeout.Token);
            }

            pool.Apply(snapshot, load, time.GetUtcNow());
            if (connectivity.ReportSucceeded(pool.Name) is { Failures: > 0 } episode)
            {
                var outage = time.GetUtcNow() - episode.Since;
                LogReportsRecovered(logger, pool.Name, episode.Failures, outage);
            }
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            // Keep routing from the last snapshot (fail-static); the next tick tries again. One warning per episode,
            // not one every report interval.
            if (connectivity.ReportFailed(pool.Name) == 1)
            {
                LogReportsFailing(logger, pool.Name, ex);
            }
            else
            {
                LogReportFailedAgain(logger, pool.Name, ex);
            }
        }
    }

    // The cluster answers but has no backend catalog for the pool: its store lost the data (Redis restarted empty). Seed it
    // again with what this gateway last knew from the cluster (backends added or changed through the admin API stay),
    // or its configuration if it never heard from the cluster. Never route from the empty catalog.
    private async Task<PoolSnapshot> ReseedAsync(IPoolGrain grain, PoolRuntime pool, CancellationToken cancellationToken)
    {
        var view = pool.View;
        var seed = view.FromCluster
            ? [.. view.Backends.Select(b => new BackendSpec(b.Id, b.Backend.Address, b.Backend.Weight, b.Backend.MaxInFlight))]
            : pool.Seed;
        var snapshot = await grain.InitializeAsync(seed, pool.Settings, cancellationToken).WaitAsync(cancellationToken);
        connectivity.Reseeded(pool.Name);
        LogReseeded(logger, pool.Name, view.FromCluster ? "this gateway's last view of it" : "configuration", seed.Length);
        return snapshot;
    }

    [LoggerMessage(EventId = 2006, Level = LogLevel.Error, Message = "Pool {Pool}: the cluster had no backend catalog for it: its store (Redis) lost its data. Seeded it again from {Source} ({Backends} backends). Session pins stored there are lost too: sessions keep their backends through gateway caches, session cookies and placement, and are pinned again as they return.")]
    private static partial void LogReseeded(ILogger logger, string pool, string source, int backends);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Pool {Pool}: backend catalog has {Backends} backends (version {Version}).")]
    private static partial void LogSeeded(ILogger logger, string pool, int backends, long version);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Pool {Pool}: cluster not reachable to seed the backend catalog; routing from configuration, retrying in {Delay}.")]
    private static partial void LogSeedFailed(ILogger logger, string pool, TimeSpan delay, Exception exception);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "Pool {Pool}: load reports are failing; routing from the last snapshot until they succeed again.")]
    private static partial void LogReportsFailing(ILogger logger, string pool, Exception exception);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information, Message = "Pool {Pool}: load reports succeed again after {Failures} failed in a row over {Outage}.")]
    private static partial void LogReportsRecovered(ILogger logger, string pool, int failures, TimeSpan outage);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Debug, Message = "Pool {Pool}: load report failed again.")]
    private static partial void LogReportFailedAgain(ILogger logger, string pool, Exception exception);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Information, Message = "Pool {Pool}: load lease released; this gateway's counts left the snapshot.")]
    private static partial void LogLeaseReleased(ILogger logger, string pool);

    [LoggerMessage(EventId = 2008, Level = LogLevel.Warning, Message = "Pool {Pool}: could not release the load lease; this gateway's counts leave the snapshot when it runs out ({Lease}).")]
    private static partial void LogLeaseNotReleased(ILogger logger, string pool, TimeSpan lease, Exception exception);
}
