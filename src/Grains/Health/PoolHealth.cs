using Distributed.Grains.Abstractions;
using Distributed.Grains.Pools;

namespace Distributed.Grains.Health;

/// <summary>
/// The one health verdict of a pool's backends: the active prober's, passive ejections from the failures every gateway
/// reported, and panic. Plain logic on explicit time: recording verdicts and outcomes and <see cref="Advance"/>
/// (ejections ending, panic starting or ending) change it and return the transitions; the queries change nothing.
/// Kept in memory: after the pool grain moves, <see cref="Restore"/> starts from the stored keeps-sessions states, and
/// probes and reports rebuild the rest within seconds.
/// </summary>
public sealed class PoolHealth
{
    private readonly Dictionary<string, BackendHealthState> _backends = new(StringComparer.Ordinal);
    private readonly PanicGate _panic = new();

    /// <summary>Whether the pool panics: every backend that may take traffic at all takes it.</summary>
    public bool Panic => _panic.Active;

    /// <summary>
    /// Starts a new activation from the stored catalog: with active checks on, a backend stored as not keeping sessions
    /// (and not because its drain ended) stays unhealthy until its prober says otherwise, rather than being presumed
    /// healthy and flapping back until the first verdict arrives.
    /// </summary>
    public void Restore(PoolState catalog, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        if (catalog.EffectiveSettings.Active.Enabled)
        {
            foreach (var backend in catalog.Backends.Where(b => !b.KeepsSessions && !b.DrainedOut(now)))
            {
                Of(backend.Id).Probe = false;
            }
        }
    }

    /// <summary>The prober's verdict; the transition when it changes the backend's state.</summary>
    public PoolEvent? RecordProbe(string backendId, bool healthy, DateTimeOffset now)
    {
        var health = Of(backendId);
        var was = health.Probe;
        health.Probe = healthy;
        if (healthy && was != true)
        {
            health.UsableSince = now; // slow start from here
        }

        return (was, healthy) switch
        {
            (false, true) => new PoolEvent(PoolEventKind.Healthy, backendId),
            (not false, false) => new PoolEvent(PoolEventKind.Unhealthy, backendId),
            _ => null,
        };
    }

    /// <summary>Forgets probe verdicts (probing turned off: nobody would lift them).</summary>
    public void ForgetProbes()
    {
        foreach (var health in _backends.Values)
        {
            health.Probe = null;
        }
    }

    /// <summary>Forgets a removed backend.</summary>
    public void Forget(string backendId) => _backends.Remove(backendId);

    /// <summary>Adds outcomes one gateway reported (completed requests, of which failed).</summary>
    public void RecordOutcomes(string backendId, long completed, long failed, DateTimeOffset now, PassiveHealthSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Of(backendId).Passive.Record(now, completed, Math.Min(failed, completed), settings.Window);
    }

    /// <summary>
    /// Moves to <paramref name="now"/>: ended ejections readmit their backends, backends whose pooled outcomes call for
    /// it are ejected, then panic is decided. Returns the transitions.
    /// </summary>
    public List<PoolEvent> Advance(PoolState catalog, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var events = new List<PoolEvent>();
        foreach (var backend in catalog.Backends)
        {
            if (_backends.TryGetValue(backend.Id, out var health) && health.EjectedUntil <= now)
            {
                (health.LastEjectionEnded, health.EjectedUntil) = (health.EjectedUntil.Value, null);
                events.Add(new PoolEvent(PoolEventKind.Readmitted, backend.Id));
            }
        }

        var settings = catalog.EffectiveSettings;
        EjectFailing(catalog.Backends, settings.Passive, now, events);
        var candidates = catalog.Backends.Where(b => b.State == BackendState.Active && Verdict(b, settings, now) != BackendHealth.Unknown).ToList();
        var healthy = candidates.Count(b => Verdict(b, settings, now) == BackendHealth.Healthy);
        if (_panic.Update(healthy, candidates.Count, settings.EffectivePanicThreshold))
        {
            events.Add(new PoolEvent(Panic ? PoolEventKind.PanicEntered : PoolEventKind.PanicLeft, Count: healthy, Of: candidates.Count));
        }

        return events;
    }

    // Ejects the backends whose pooled outcomes call for it, never more than the configured share.
    private void EjectFailing(List<BackendRecord> backends, PassiveHealthSettings settings, DateTimeOffset now, List<PoolEvent> events)
    {
        var allowed = PassiveHealthTracker.MaxEjected(backends.Count, settings);
        var ejected = backends.Count(b => Of(b.Id).EjectedUntil > now);
        foreach (var backend in backends)
        {
            var health = Of(backend.Id);
            if (ejected >= allowed)
            {
                break;
            }

            if (health.EjectedUntil is not null || !health.Passive.ShouldEject(now, settings))
            {
                continue;
            }

            if (now - health.LastEjectionEnded > settings.MaxEjectionTime * 2)
            {
                health.Ejections = 0; // a long good spell forgives earlier ejections
            }

            health.Ejections++;
            health.EjectedUntil = now + PassiveHealthTracker.EjectionTime(health.Ejections, settings);
            health.Passive.Reset();
            ejected++;
            events.Add(new PoolEvent(PoolEventKind.Ejected, backend.Id, Until: health.EjectedUntil, Count: health.Ejections));
        }
    }

    /// <summary>The verdict on <paramref name="backend"/> at <paramref name="now"/>.</summary>
    public BackendHealth Verdict(BackendRecord backend, PoolSettings settings, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(settings);
        var health = _backends.GetValueOrDefault(backend.Id);
        var active = settings.Active;
        if (active.Enabled && health?.Probe == false)
        {
            return BackendHealth.Unhealthy;
        }

        if (health?.EjectedUntil > now)
        {
            return BackendHealth.Ejected;
        }

        // Seeded backends (added at MinValue) start together with nothing to protect; added ones may wait.
        return active.Enabled && active.WaitForFirstPass && health?.Probe is null && backend.AddedAt != DateTimeOffset.MinValue
            ? BackendHealth.Unknown
            : BackendHealth.Healthy;
    }

    /// <summary>Whether the backend takes traffic: healthy, or any checked backend in panic.</summary>
    public bool Serves(BackendRecord backend, PoolSettings settings, DateTimeOffset now) => Verdict(backend, settings, now) switch
    {
        BackendHealth.Healthy => true,
        BackendHealth.Unknown => false,
        _ => Panic,
    };

    /// <summary>Whether sessions pinned to the backend stay there: it serves, and its drain deadline has not passed.</summary>
    public bool KeepsSessions(BackendRecord backend, PoolSettings settings, DateTimeOffset now) =>
        Serves(backend, settings, now) && !backend.DrainedOut(now);

    /// <summary>When the backend last became usable (added, healthy again, readmitted): the start of its slow start.</summary>
    public DateTimeOffset UsableSince(BackendRecord backend, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var since = backend.AddedAt;
        if (_backends.TryGetValue(backend.Id, out var health))
        {
            since = Max(since, Max(health.UsableSince, health.LastEjectionEnded));
            if (health.EjectedUntil <= now)
            {
                since = Max(since, health.EjectedUntil.Value); // ended, not yet advanced past
            }
        }

        return since;
    }

    /// <summary>Requests per second completed over the passive-health window.</summary>
    public double RequestRate(string backendId, DateTimeOffset now, TimeSpan window) =>
        _backends.TryGetValue(backendId, out var health) ? health.Passive.Rate(now, window) : 0;

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private BackendHealthState Of(string backendId)
    {
        if (!_backends.TryGetValue(backendId, out var health))
        {
            health = new BackendHealthState();
            _backends.Add(backendId, health);
        }

        return health;
    }

    private sealed class BackendHealthState
    {
        // The prober's verdict: null until it has one (a prober says nothing before Rise passes or Fall failures).
        public bool? Probe { get; set; }

        public PassiveHealthTracker Passive { get; } = new();

        public DateTimeOffset? EjectedUntil { get; set; }

        public int Ejections { get; set; }

        public DateTimeOffset LastEjectionEnded { get; set; }

        public DateTimeOffset UsableSince { get; set; }
    }
}
