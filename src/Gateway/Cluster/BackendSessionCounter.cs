using Distributed.Grains.Abstractions;

namespace Distributed.Gateway.Cluster;

/// <summary>How many sessions are pinned to a backend, cluster-wide.</summary>
internal interface IBackendSessionCounter
{
    Task<int> CountAsync(string pool, string backendId, CancellationToken cancellationToken = default);
}

/// <summary>Counts through the backend's session index grain (which the admin API and drain progress read too).</summary>
internal sealed class GrainBackendSessionCounter(IGrainFactory grains) : IBackendSessionCounter
{
    /// <summary>The session index grain of one backend.</summary>
    public static IBackendSessionsGrain Index(IGrainFactory grains, string pool, string backendId) =>
        grains.GetGrain<IBackendSessionsGrain>(GrainKeys.Backend(pool, backendId));

    /// <summary>The sessions pinned to one backend (the index's total; the grain drops lapsed ones first).</summary>
    public static async Task<int> CountAsync(IGrainFactory grains, string pool, string backendId, CancellationToken cancellationToken = default) =>
        (await Index(grains, pool, backendId).ListAsync(null, 1).WaitAsync(cancellationToken)).Total;

    public Task<int> CountAsync(string pool, string backendId, CancellationToken cancellationToken = default) =>
        CountAsync(grains, pool, backendId, cancellationToken);
}
