using Distributed.Grains.Abstractions;

namespace Distributed.Grains.Pools;

/// <summary>
/// The pool's recent state transitions for operators (the admin API and the status page): the last
/// <see cref="Capacity"/> events raised through <see cref="PoolLog.Raise(PoolEvent?)"/>, each with when and by whom.
/// Plain logic on explicit time.
/// </summary>
/// <remarks>
/// Kept in memory only, like the health verdict it mostly reports: storing it would add a write to the pool's store per
/// ejection or probe verdict, exactly when an incident may already strain the store, and the catalog's writes must not
/// wait behind it. A pool grain that moves to another silo starts an empty log (<see cref="PoolEventPage.KeptSince"/>
/// says since when); the silo's logs (events 5110–5125) keep the full record.
/// </remarks>
public sealed class PoolEventHistory
{
    /// <summary>How many events a pool keeps: a few hundred bytes each, well under 100 KB per pool.</summary>
    public const int DefaultCapacity = 200;

    private readonly List<PoolEventRecord> _events = [];
    private readonly DateTimeOffset _keptSince;
    private long _nextId;

    /// <summary>Starts an empty log at <paramref name="keptSince"/>.</summary>
    public PoolEventHistory(DateTimeOffset keptSince, int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        (_keptSince, Capacity) = (keptSince, capacity);

        // Ids go on above an earlier log's (the grain's previous activation) as long as it raised fewer than one event a
        // millisecond: a client's cursor from before sees every event of the new log.
        _nextId = keptSince.ToUnixTimeMilliseconds();
    }

    /// <summary>The most events kept.</summary>
    public int Capacity { get; }

    /// <summary>Whether an event of <paramref name="kind"/> gets a count of the sessions pinned to its backend.</summary>
    public static bool CountsSessions(PoolEventKind kind) => kind is PoolEventKind.DrainStarted or PoolEventKind.DrainFinished
        or PoolEventKind.Unhealthy or PoolEventKind.Ejected or PoolEventKind.BackendRemoved;

    /// <summary>Who caused <paramref name="transition"/>: the admin caller, or the part of the pool that decided it.</summary>
    public static string ActorOf(PoolEvent transition)
    {
        ArgumentNullException.ThrowIfNull(transition);
        return transition.Actor ?? transition.Kind switch
        {
            PoolEventKind.Unhealthy or PoolEventKind.Healthy => "active health",
            PoolEventKind.Ejected or PoolEventKind.Readmitted => "passive health",
            PoolEventKind.PanicEntered or PoolEventKind.PanicLeft => "health",
            PoolEventKind.DrainFinished => "drain deadline",
            _ => "unknown",
        };
    }

    /// <summary>Adds <paramref name="transition"/>, which happened at <paramref name="at"/>, dropping the oldest event past the capacity.</summary>
    public PoolEventRecord Record(PoolEvent transition, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(transition);
        var panic = transition.Kind is PoolEventKind.PanicEntered or PoolEventKind.PanicLeft;
        var entry = new PoolEventRecord(
            _nextId++,
            at,
            transition.Kind,
            transition.Backend,
            ActorOf(transition),
            transition.Detail,
            transition.Until,
            Ejections: transition.Kind == PoolEventKind.Ejected ? transition.Count : null,
            Healthy: panic ? transition.Count : null,
            Backends: panic ? transition.Of : null);
        if (_events.Count == Capacity)
        {
            _events.RemoveAt(0);
        }

        _events.Add(entry);
        return entry;
    }

    /// <summary>Adds the count of sessions pinned to an event's backend; nothing when the event was dropped meanwhile.</summary>
    public void CountedSessions(long id, int sessions)
    {
        var index = _events.FindLastIndex(e => e.Id == id);
        if (index >= 0)
        {
            _events[index] = _events[index] with { SessionsPinned = sessions };
        }
    }

    /// <summary>
    /// The kept events after <paramref name="after"/>, oldest first: all for <c>null</c> or a cursor above every id given
    /// (from another log whose clock ran ahead).
    /// </summary>
    public PoolEventPage After(long? after)
    {
        var from = after is { } cursor && cursor < _nextId ? _events.FindIndex(e => e.Id > cursor) : 0;
        return new PoolEventPage(_keptSince, Capacity, from < 0 ? [] : [.. _events.Skip(from)]);
    }
}
