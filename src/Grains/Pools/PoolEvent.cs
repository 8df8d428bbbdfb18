using Distributed.Grains.Abstractions;

namespace Distributed.Grains.Pools;

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
