using System.Collections.Concurrent;
using Distributed.Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Pools;

/// <summary>
/// Whether this gateway currently reaches the cluster, per pool. While it does not, the gateway is <em>degraded</em>: it
/// keeps routing from its last snapshot and pin cache (fail-static) and says so on <c>/readyz</c>, naming the pools
/// whose reports fail, rather than refusing traffic.
/// </summary>
internal sealed class ClusterConnectivity(TimeProvider time, IOptions<BalancerOptions> options)
{
    // Two missed report rounds in a row: one can be a hiccup, two mean the tracker is unreachable.
    internal const int FailedReportsForUnreachable = 2;
    private readonly TimeSpan _callFailureMemory = options.Value.EffectiveReportLease;
    private readonly ConcurrentDictionary<string, PoolReports> _pools = new(StringComparer.Ordinal);
    private long _lastCallFailureTicks = long.MinValue;
    private long _lastReportSuccessTicks = long.MinValue;

    /// <summary>True while some pool's reports fail, or a request-path grain call failed since the last successful report.</summary>
    public bool IsDegraded
    {
        get
        {
            if (_pools.Values.Any(p => p.Unreachable))
            {
                return true;
            }

            var lastCallFailure = Interlocked.Read(ref _lastCallFailureTicks);
            return lastCallFailure > Interlocked.Read(ref _lastReportSuccessTicks)
                && time.GetUtcNow().UtcTicks - lastCallFailure < _callFailureMemory.Ticks;
        }
    }

    /// <summary>The reports to one pool's grain.</summary>
    public PoolReports Reports(string pool) => _pools.GetOrAdd(pool, static _ => new PoolReports());

    /// <summary>A report to <paramref name="pool"/> succeeded; returns the failures in a row it ends and since when they ran.</summary>
    public (int Failures, DateTimeOffset Since) ReportSucceeded(string pool)
    {
        var now = time.GetUtcNow();
        Interlocked.Exchange(ref _lastReportSuccessTicks, now.UtcTicks);
        return Reports(pool).Succeeded();
    }

    /// <summary>A report to <paramref name="pool"/> failed; returns how many have failed in a row now.</summary>
    public int ReportFailed(string pool) => Reports(pool).Failed(time.GetUtcNow());

    public void CallFailed() => Interlocked.Exchange(ref _lastCallFailureTicks, time.GetUtcNow().UtcTicks);
}

/// <summary>One pool's load reports as this gateway sees them: failures in a row and since when.</summary>
internal sealed class PoolReports
{
    private int _failures;
    private long _failingSinceTicks;

    /// <summary>Reports that failed in a row.</summary>
    public int FailuresInARow => Volatile.Read(ref _failures);

    /// <summary>Whether the pool's grain is unreachable: its last reports failed.</summary>
    public bool Unreachable => FailuresInARow >= ClusterConnectivity.FailedReportsForUnreachable;

    /// <summary>When the current run of failures began.</summary>
    public DateTimeOffset FailingSince => new(Interlocked.Read(ref _failingSinceTicks), TimeSpan.Zero);

    internal int Failed(DateTimeOffset now)
    {
        var failures = Interlocked.Increment(ref _failures);
        if (failures == 1)
        {
            Interlocked.Exchange(ref _failingSinceTicks, now.UtcTicks);
        }

        return failures;
    }

    internal (int Failures, DateTimeOffset Since) Succeeded() => (Interlocked.Exchange(ref _failures, 0), FailingSince);
}
