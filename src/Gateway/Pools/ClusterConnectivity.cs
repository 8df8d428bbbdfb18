using Distributed.Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Pools;

/// <summary>
/// Whether this gateway currently reaches the cluster. While it does not, the gateway is <em>degraded</em>: it keeps
/// routing from its last snapshot and pin cache (fail-static) and says so on <c>/readyz</c>, rather than refusing traffic.
/// </summary>
internal sealed class ClusterConnectivity(TimeProvider time, IOptions<BalancerOptions> options)
{
    // Two missed report rounds in a row: one can be a hiccup, two mean the tracker is unreachable.
    private const int FailedReportsForDegraded = 2;
    private readonly TimeSpan _callFailureMemory = options.Value.EffectiveReportLease;
    private int _consecutiveReportFailures;
    private long _lastCallFailureTicks = long.MinValue;
    private long _lastReportSuccessTicks = long.MinValue;

    /// <summary>True while reports fail, or a request-path grain call failed since the last successful report.</summary>
    public bool IsDegraded
    {
        get
        {
            if (Volatile.Read(ref _consecutiveReportFailures) >= FailedReportsForDegraded)
            {
                return true;
            }

            var lastCallFailure = Interlocked.Read(ref _lastCallFailureTicks);
            return lastCallFailure > Interlocked.Read(ref _lastReportSuccessTicks)
                && time.GetUtcNow().UtcTicks - lastCallFailure < _callFailureMemory.Ticks;
        }
    }

    public void ReportSucceeded()
    {
        Volatile.Write(ref _consecutiveReportFailures, 0);
        Interlocked.Exchange(ref _lastReportSuccessTicks, time.GetUtcNow().UtcTicks);
    }

    public void ReportFailed() => Interlocked.Increment(ref _consecutiveReportFailures);

    public void CallFailed() => Interlocked.Exchange(ref _lastCallFailureTicks, time.GetUtcNow().UtcTicks);
}
