using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Distributed.Gateway.Pools;

/// <summary>
/// Readiness: every pool has a snapshot from the cluster (not just the configuration seed), so load figures and the
/// registry are shared with the other gateways.
/// </summary>
internal sealed class ClusterSnapshotHealthCheck(PoolRegistry pools) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var waiting = pools.All.Where(p => !p.View.FromCluster).Select(p => p.Name).ToList();
        return Task.FromResult(waiting.Count == 0
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy($"No cluster snapshot yet for pool(s): {string.Join(", ", waiting)}."));
    }
}
