using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Distributed.Gateway.Pools;

/// <summary>
/// Readiness: unhealthy until every pool has a snapshot from the cluster (not just the configuration seed);
/// degraded (still 200, still serving) while the cluster is unreachable and the gateway routes fail-static.
/// </summary>
internal sealed class ClusterSnapshotHealthCheck(PoolRegistry pools, ClusterConnectivity connectivity) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var waiting = pools.All.Where(p => !p.View.FromCluster).Select(p => p.Name).ToList();
        if (waiting.Count > 0)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy($"No cluster snapshot yet for pool(s): {string.Join(", ", waiting)}."));
        }

        return Task.FromResult(connectivity.IsDegraded
            ? HealthCheckResult.Degraded("The cluster is unreachable: routing from the last snapshot and pin cache.")
            : HealthCheckResult.Healthy());
    }
}
