using System.Collections.Concurrent;

namespace Distributed.Gateway.Cluster;

/// <summary>
/// Whether this gateway currently reaches the cluster's pool grains, per pool. While a pool's load reports fail, the
/// gateway is <em>degraded</em>: it keeps routing from its last snapshot and pin cache (fail-static), keeps using cached
/// pins past the session TTL, and says so on <c>/readyz</c>, naming the pools whose reports fail, rather than refusing
/// traffic. A slow or failed session-grain call is not a sign of that: it affects only its own request, which is routed
/// by a guess once its wait budget is spent.
/// </summary>
internal sealed class ClusterConnectivity(TimeProvider time)
{
    // Two missed report rounds in a row: one can be a hiccup, two mean the tracker is unreachable.
    internal const int FailedReportsForUnreachable = 2;
    private readonly ConcurrentDictionary<string, PoolReports> _pools = new(StringComparer.Ordinal);

    // Silos this gateway's Orleans client holds a connection to; -1 until the client first says (unknown: assume some).
    private int _connectedSilos = -1;

    // The same reports as an array, replaced whole when a pool is added: IsDegraded is read by every request that uses a
    // cached pin, and ConcurrentDictionary.Values takes every lock of the dictionary and copies it into a new list.
    private PoolReports[] _all = [];

    /// <summary>True while some pool's load reports fail.</summary>
    public bool IsDegraded
    {
        get
        {
            foreach (var reports in Volatile.Read(ref _all))
            {
                if (reports.Unreachable)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>
    /// True while the Orleans client holds no connection to any silo (every silo it knew is gone, or none is up yet): a
    /// grain call cannot be answered until one is back, so a request routes by its guess at once instead of spending
    /// its wait budget on a call that cannot succeed in it. A fact about the whole cluster, not one slow grain.
    /// </summary>
    public bool NoSiloConnected => Volatile.Read(ref _connectedSilos) == 0;

    /// <summary>The Orleans client now holds <paramref name="silos"/> silo connections; returns the count before.</summary>
    public int SiloConnectionsChanged(int silos) => Interlocked.Exchange(ref _connectedSilos, Math.Max(silos, 0));

    /// <summary>The reports to one pool's grain.</summary>
    public PoolReports Reports(string pool) => _pools.TryGetValue(pool, out var reports) ? reports : Add(pool);

    /// <summary>A report to <paramref name="pool"/> succeeded; returns the failures in a row it ends and since when they ran.</summary>
    public (int Failures, DateTimeOffset Since) ReportSucceeded(string pool) => Reports(pool).Succeeded();

    /// <summary>A report to <paramref name="pool"/> failed; returns how many have failed in a row now.</summary>
    public int ReportFailed(string pool) => Reports(pool).Failed(time.GetUtcNow());

    /// <summary>This gateway seeded <paramref name="pool"/> again because the cluster's store had lost its backend catalog.</summary>
    public void Reseeded(string pool) => Reports(pool).CountReseed();

    private PoolReports Add(string pool)
    {
        lock (_pools)
        {
            if (!_pools.TryGetValue(pool, out var reports))
            {
                reports = new PoolReports();
                _pools[pool] = reports;
                Volatile.Write(ref _all, [.. _all, reports]);
            }

            return reports;
        }
    }
}

/// <summary>One pool's load reports as this gateway sees them: failures in a row and since when, and reseeds.</summary>
internal sealed class PoolReports
{
    private int _failures;
    private long _failingSinceTicks;
    private long _reseeds;

    /// <summary>Reports that failed in a row.</summary>
    public int FailuresInARow => Volatile.Read(ref _failures);

    /// <summary>Whether the pool's grain is unreachable: its last reports failed.</summary>
    public bool Unreachable => FailuresInARow >= ClusterConnectivity.FailedReportsForUnreachable;

    /// <summary>When the current run of failures began.</summary>
    public DateTimeOffset FailingSince => new(Interlocked.Read(ref _failingSinceTicks), TimeSpan.Zero);

    /// <summary>Times this gateway seeded the pool again since it started (read by the metrics).</summary>
    public long Reseeds => Interlocked.Read(ref _reseeds);

    internal int Failed(DateTimeOffset now)
    {
        var failures = Interlocked.Increment(ref _failures);
        if (failures == 1)
        {
            Interlocked.Exchange(ref _failingSinceTicks, now.UtcTicks);
        }

        return failures;
    }

    internal void CountReseed() => Interlocked.Increment(ref _reseeds);

    internal (int Failures, DateTimeOffset Since) Succeeded() => (Interlocked.Exchange(ref _failures, 0), FailingSince);
}
