using System.Collections.Concurrent;
using Distributed.Gateway.Configuration;
using Distributed.Gateway.Pools;
using Distributed.Grains.Abstractions;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Cluster;

/// <summary>
/// Fetches a pool's snapshot out of turn, when a request meets a pin to a backend this gateway's view does not know
/// (added moments ago, or removed): one fetch per pool at a time, shared by every request that needs it. Between such
/// requests the load reporter's regular snapshots keep the view current.
/// </summary>
internal sealed class PoolViewRefresher(IGrainFactory grains, TimeProvider time, IOptions<BalancerOptions> options)
{
    private readonly ConcurrentDictionary<string, Task<PoolView>> _running = new(StringComparer.Ordinal);
    private readonly TimeSpan _callTimeout = options.Value.ClusterCallTimeout;

    /// <summary>The pool's view after a fresh snapshot was adopted; fails when the cluster did not give one.</summary>
    public Task<PoolView> RefreshAsync(PoolRuntime pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        while (true)
        {
            if (_running.TryGetValue(pool.Name, out var running))
            {
                return running;
            }

            var fetch = new TaskCompletionSource<PoolView>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_running.TryAdd(pool.Name, fetch.Task))
            {
                _ = FetchAsync(pool, fetch);
                return fetch.Task;
            }
        }
    }

    private async Task FetchAsync(PoolRuntime pool, TaskCompletionSource<PoolView> fetch)
    {
        try
        {
            using var timeout = new CancellationTokenSource(_callTimeout, time);
            var snapshot = await grains.GetGrain<IPoolGrain>(pool.Name).GetSnapshotAsync().WaitAsync(timeout.Token);
            if (snapshot.Unseeded)
            {
                throw new InvalidOperationException($"Pool '{pool.Name}' has no backend catalog in the cluster (being seeded again).");
            }

            pool.Apply(snapshot, [], time.GetUtcNow());
            fetch.SetResult(pool.View);
        }
        catch (Exception ex)
        {
            fetch.SetException(ex);
        }
        finally
        {
            _running.TryRemove(pool.Name, out _);
        }
    }
}
