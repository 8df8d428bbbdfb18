namespace Distributed.Grains.Pools;

/// <summary>A state transition of a pool.</summary>
public enum PoolEventKind
{
    /// <summary>An operator added a backend.</summary>
    BackendAdded,

    /// <summary>An operator changed a backend's address, weight or limit.</summary>
    BackendChanged,

    /// <summary>An operator removed a backend.</summary>
    BackendRemoved,

    /// <summary>An operator started draining a backend.</summary>
    DrainStarted,

    /// <summary>An operator cancelled a drain.</summary>
    DrainCancelled,

    /// <summary>A drain's deadline passed: the sessions still there move on their next request.</summary>
    DrainFinished,

    /// <summary>The active prober found the backend unhealthy.</summary>
    Unhealthy,

    /// <summary>The active prober found the backend healthy again.</summary>
    Healthy,

    /// <summary>Failures reported by the gateways ejected the backend.</summary>
    Ejected,

    /// <summary>An ejection ended.</summary>
    Readmitted,

    /// <summary>Too few backends are healthy: every active backend takes traffic.</summary>
    PanicEntered,

    /// <summary>Enough backends are healthy again.</summary>
    PanicLeft,
}

/// <summary>
/// One state transition of a pool, raised in one place (<see cref="PoolLog.Raise(PoolEvent?)"/>) whatever caused it.
/// </summary>
/// <param name="Kind">What happened.</param>
/// <param name="Backend">The backend it happened to; <c>null</c> for the pool (panic).</param>
/// <param name="Actor">Who did it, for admin operations.</param>
/// <param name="Detail">What changed, in words (admin changes).</param>
/// <param name="Until">Ejection end or drain deadline.</param>
/// <param name="Count">Ejections in a row, or healthy backends (panic).</param>
/// <param name="Of">Backends that may take traffic (panic).</param>
public sealed record PoolEvent(
    PoolEventKind Kind,
    string? Backend = null,
    string? Actor = null,
    string? Detail = null,
    DateTimeOffset? Until = null,
    int Count = 0,
    int Of = 0);
