using Distributed.Gateway.Pools;
using Distributed.Grains.Abstractions;

namespace Distributed.Gateway.Tests.Fakes;

/// <summary>
/// Pool views built straight from snapshots, as <see cref="PoolRuntime"/> builds them from the cluster's: one local
/// counter per backend id, kept across the views a factory builds (a request begun under one view ends under the next).
/// </summary>
internal sealed class ViewFactory
{
    private readonly Dictionary<string, BackendCounter> _counters = [];

    /// <summary>A view of pool <c>web</c> received from the cluster.</summary>
    public PoolView View(params BackendSnapshot[] backends) => new(
        new PoolSnapshot("web", 1, [.. backends], 1, DateTimeOffset.UnixEpoch),
        DateTimeOffset.UnixEpoch,
        fromCluster: true,
        id => _counters.TryGetValue(id, out var counter) ? counter : _counters[id] = new BackendCounter());

    /// <summary>Forgets the local counters: the next view starts with none in flight.</summary>
    public void ResetCounters() => _counters.Clear();

    /// <summary>
    /// A backend as the cluster's snapshot shows it, with <paramref name="inFlight"/> requests cluster-wide;
    /// <paramref name="healthy"/> false stands for the cluster's verdict (unhealthy, not in panic): no new work.
    /// </summary>
    public static BackendSnapshot Backend(string id, int inFlight = 0, BackendState state = BackendState.Active, int weight = 1, double? effectiveWeight = null, int maxInFlight = 0, bool healthy = true) =>
        new(id, $"http://127.0.0.1/{id}", weight, state, inFlight, EffectiveWeight: effectiveWeight ?? weight, MaxInFlight: maxInFlight, AcceptsNewSessions: healthy && state == BackendState.Active);
}
