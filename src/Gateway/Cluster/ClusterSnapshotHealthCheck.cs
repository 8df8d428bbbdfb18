using System.Globalization;
using Distributed.Gateway.Pools;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Distributed.Gateway.Cluster;

/// <summary>
/// Readiness: unhealthy until every pool has a snapshot from the cluster (not just the configuration seed) and its pin
/// hints (<see cref="Pinning.PinHintWarmup"/>, at most a few seconds); degraded
/// (still 200, still serving) while some pool's grain is unreachable and the gateway routes it fail-static. The data
/// says, per pool, what this gateway sees.
/// </summary>
internal sealed class ClusterSnapshotHealthCheck(PoolRegistry pools, ClusterConnectivity connectivity) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        List<string> waiting = [], unreachable = [];
        foreach (var pool in pools.All.OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            var reports = connectivity.Reports(pool.Name);
            if (!pool.View.FromCluster)
            {
                waiting.Add(pool.Name);
                data[pool.Name] = "waiting for the first snapshot";
            }
            else if (!pool.Hints.Loaded)
            {
                waiting.Add(pool.Name);
                data[pool.Name] = "loading pin hints";
            }
            else if (reports.Unreachable)
            {
                unreachable.Add(pool.Name);
                data[pool.Name] = string.Create(CultureInfo.InvariantCulture, $"unreachable: {reports.FailuresInARow} reports failed in a row since {reports.FailingSince:O}");
            }
            else
            {
                data[pool.Name] = "reachable";
            }
        }

        if (waiting.Count > 0)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy($"Waiting for the cluster's snapshot and pin hints of pool(s): {string.Join(", ", waiting)}.", data: data));
        }

        if (unreachable.Count > 0)
        {
            return Task.FromResult(HealthCheckResult.Degraded($"The grain(s) of pool(s) {string.Join(", ", unreachable)} are unreachable: routing them from the last snapshot and pin cache.", data: data));
        }

        return Task.FromResult(HealthCheckResult.Healthy(data: data));
    }
}
