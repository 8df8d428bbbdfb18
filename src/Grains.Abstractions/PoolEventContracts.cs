using System.Collections.Immutable;

namespace Distributed.Grains.Abstractions;

/// <summary>A state transition of a pool (the numbers cross grain boundaries and are never reused).</summary>
public enum PoolEventKind
{
    /// <summary>An operator added a backend.</summary>
    BackendAdded = 0,

    /// <summary>An operator changed a backend's address, weight or limit.</summary>
    BackendChanged = 1,

    /// <summary>An operator removed a backend.</summary>
    BackendRemoved = 2,

    /// <summary>An operator started draining a backend.</summary>
    DrainStarted = 3,

    /// <summary>An operator cancelled a drain.</summary>
    DrainCancelled = 4,

    /// <summary>A drain's deadline passed: the sessions still there move on their next request.</summary>
    DrainFinished = 5,

    /// <summary>The active prober found the backend unhealthy.</summary>
    Unhealthy = 6,

    /// <summary>The active prober found the backend healthy again.</summary>
    Healthy = 7,

    /// <summary>Failures reported by the gateways ejected the backend.</summary>
    Ejected = 8,

    /// <summary>An ejection ended.</summary>
    Readmitted = 9,

    /// <summary>Too few backends are healthy: every active backend takes traffic.</summary>
    PanicEntered = 10,

    /// <summary>Enough backends are healthy again.</summary>
    PanicLeft = 11,
}

/// <summary>One entry of a pool's event log (<see cref="IPoolGrain.GetEventsAsync"/>).</summary>
/// <param name="Id">
/// Increases by one per event; the first of a log is the pool grain's clock in milliseconds when the log started, so a
/// log started later (the pool grain moved) goes on above the ids of the one before.
/// </param>
/// <param name="At">The pool grain's clock when it happened.</param>
/// <param name="Kind">What happened.</param>
/// <param name="Backend">The backend it happened to; <c>null</c> for the pool (panic).</param>
/// <param name="By">
/// Who did it: for an admin change, the caller as the admin API names it (its address and the gateway it came through);
/// otherwise <c>active health</c> (probes), <c>passive health</c> (ejections from the gateways' failure reports),
/// <c>health</c> (panic) or <c>drain deadline</c>.
/// </param>
/// <param name="Detail">What changed, in words (backend added or changed).</param>
/// <param name="Until">Ejection end or drain deadline.</param>
/// <param name="Ejections">Ejections in a row (ejected).</param>
/// <param name="Healthy">Healthy backends (panic entered or left).</param>
/// <param name="Backends">Backends that may take traffic (panic entered or left).</param>
/// <param name="SessionsPinned">
/// Sessions pinned to the backend when it happened, from its session list, counted just after the event (drain
/// started or finished, unhealthy, ejected, removed: at a drain's end, an ejection or a removal these are the sessions
/// that move on their next request); <c>null</c> for other events, until counted, or when the count failed.
/// </param>
[GenerateSerializer, Immutable, Alias("Distributed.PoolEventRecord")]
public sealed record PoolEventRecord(
    [property: Id(0)] long Id,
    [property: Id(1)] DateTimeOffset At,
    [property: Id(2)] PoolEventKind Kind,
    [property: Id(3)] string? Backend,
    [property: Id(4)] string By,
    [property: Id(5)] string? Detail = null,
    [property: Id(6)] DateTimeOffset? Until = null,
    [property: Id(7)] int? Ejections = null,
    [property: Id(8)] int? Healthy = null,
    [property: Id(9)] int? Backends = null,
    [property: Id(10)] int? SessionsPinned = null);

/// <summary>Events of a pool's log after a cursor.</summary>
/// <param name="KeptSince">
/// When this log started (the pool grain's activation): it is kept in memory, so nothing before is known.
/// </param>
/// <param name="Capacity">The most events the log keeps; older ones are dropped.</param>
/// <param name="Events">The events after the cursor, oldest first.</param>
[GenerateSerializer, Immutable, Alias("Distributed.PoolEventPage")]
public sealed record PoolEventPage(
    [property: Id(0)] DateTimeOffset KeptSince,
    [property: Id(1)] int Capacity,
    [property: Id(2)] ImmutableArray<PoolEventRecord> Events);
