using Distributed.Gateway.Cluster;
using Distributed.Gateway.Configuration;
using Distributed.Gateway.Pools;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Pinning;

/// <summary>
/// Fills a starting gateway's <see cref="PinHints"/> from the cluster's per-backend session lists: every session pinned
/// to another backend than the key's first choice (the guess a cold gateway makes) becomes a hint. Runs once per pool,
/// right after the pool's first snapshot from the cluster (<see cref="PoolRuntime.FirstSnapshot"/>), alongside the
/// load reports, before the gateway says it is ready, and is bounded in time and work: a gateway that cannot finish it
/// in <see cref="Limit"/> starts with what it has.
/// </summary>
internal sealed partial class PinHintWarmup(PoolRegistry pools, IGrainFactory grains, IOptions<BalancerOptions> options, TimeProvider time, ILogger<PinHintWarmup> logger)
    : BackgroundService
{
    /// <summary>The longest a warm-up may take; readiness does not wait longer.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);

    private const int PageSize = 1000;
    private readonly TimeSpan _callTimeout = options.Value.ClusterCallTimeout;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.WhenAll(pools.All.Select(async pool =>
    {
        await pool.FirstSnapshot.WaitAsync(stoppingToken);
        await WarmAsync(pool, stoppingToken);
    }));

    /// <summary>Loads the hints of <paramref name="pool"/>; never throws but for cancellation by <paramref name="stoppingToken"/>.</summary>
    public async Task WarmAsync(PoolRuntime pool, CancellationToken stoppingToken)
    {
        if (pool.KeySource is null)
        {
            pool.Hints.MarkLoaded(); // no sessions in a pool without stickiness
            return;
        }

        var started = time.GetTimestamp();
        var listed = 0;
        using var deadline = new CancellationTokenSource(Limit, time);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, deadline.Token);
        try
        {
            var view = pool.View;
            foreach (var backend in view.Backends.Where(b => b.KeepsSessions))
            {
                var index = GrainBackendSessionCounter.Index(grains, pool.Name, backend.Id);
                string? after = null;
                do
                {
                    var page = await index.ListAsync(after, PageSize).WaitAsync(_callTimeout, time, limit.Token);
                    foreach (var session in page.Sessions)
                    {
                        if (pool.Policy.Guess(view, session, requestKey: null)?.Id != backend.Id && !pool.Hints.TryAdd(session, backend.Id))
                        {
                            break; // full
                        }
                    }

                    listed += page.Sessions.Count;
                    after = page.Next;
                }
                while (after is not null && !pool.Hints.IsFull);
            }

            var elapsed = time.GetElapsedTime(started);
            LogWarmedUp(logger, pool.Name, pool.Hints.Count, listed, elapsed);
        }
        catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
        {
            // The cluster is slow or a list is unreachable: start with the hints loaded so far.
            LogWarmUpIncomplete(logger, pool.Name, pool.Hints.Count, listed, ex);
        }
        finally
        {
            pool.Hints.MarkLoaded();
        }
    }

    [LoggerMessage(EventId = 4010, Level = LogLevel.Information, Message = "Pool {Pool}: {Hints} sessions pinned away from their first choice, of {Listed} listed, are hinted to this gateway (in {Elapsed}).")]
    private static partial void LogWarmedUp(ILogger logger, string pool, int hints, int listed, TimeSpan elapsed);

    [LoggerMessage(EventId = 4011, Level = LogLevel.Warning, Message = "Pool {Pool}: pin hints incomplete ({Hints} of {Listed} listed sessions); starting with those.")]
    private static partial void LogWarmUpIncomplete(ILogger logger, string pool, int hints, int listed, Exception exception);
}
