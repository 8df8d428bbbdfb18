namespace Distributed.Gateway.Pools;

/// <summary>
/// Whether this gateway currently reaches the cluster's pool grains. While its load reports fail, the gateway is
/// <em>degraded</em>: it keeps routing from its last snapshot and pin cache (fail-static), keeps using cached pins past
/// the session TTL, and says so on <c>/readyz</c>, rather than refusing traffic. A slow or failed session-grain call is
/// not a sign of that: it affects only its own request, which is routed by a guess once its wait budget is spent.
/// </summary>
internal sealed class ClusterConnectivity
{
    // Two missed report rounds in a row: one can be a hiccup, two mean the tracker is unreachable.
    private const int FailedReportsForDegraded = 2;
    private int _consecutiveReportFailures;

    /// <summary>True while load reports fail.</summary>
    public bool IsDegraded => ConsecutiveReportFailures >= FailedReportsForDegraded;

    /// <summary>Report rounds that failed since the last one that succeeded.</summary>
    public int ConsecutiveReportFailures => Volatile.Read(ref _consecutiveReportFailures);

    public void ReportSucceeded() => Volatile.Write(ref _consecutiveReportFailures, 0);

    public void ReportFailed() => Interlocked.Increment(ref _consecutiveReportFailures);
}
