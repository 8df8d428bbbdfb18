using System.Collections.Immutable;
using System.Globalization;
using Distributed.Grains.Abstractions;

namespace Distributed.Grains.Pools;

/// <summary>What an admin operation planned: its outcome and, when it changes anything, the catalog to store.</summary>
/// <param name="Outcome">How the operation ends once <paramref name="Next"/> (if any) is stored.</param>
/// <param name="Next">The changed copy of the catalog to store; <c>null</c> when nothing is to be stored.</param>
/// <param name="Event">The transition to raise once stored.</param>
/// <param name="Detail">Why it was refused.</param>
public sealed record CatalogChange(AdminOutcome Outcome, PoolState? Next, PoolEvent? Event = null, string? Detail = null)
{
    /// <summary>Nothing to do.</summary>
    public static CatalogChange Unchanged { get; } = new(AdminOutcome.Done, null);

    /// <summary>Refused: nothing is stored.</summary>
    public static CatalogChange Refused(AdminOutcome outcome, string detail) => new(outcome, null, null, detail);
}

/// <summary>
/// The backend catalog of a pool with its admin operations. <see cref="Current"/> is the catalog as stored; each
/// operation validates against it and returns a changed copy (<see cref="CatalogChange.Next"/>), leaving it untouched:
/// the grain stores the copy and only then <see cref="Publish"/>es it. Plain logic on explicit time.
/// </summary>
public sealed class BackendCatalog(PoolState current)
{
    private readonly HashSet<string> _drainsFinished = new(StringComparer.Ordinal);

    /// <summary>The catalog as stored: what every snapshot shows.</summary>
    public PoolState Current { get; private set; } = current;

    /// <summary>Takes the stored catalog as the current one.</summary>
    public void Publish(PoolState stored) => Current = stored;

    /// <summary>Seeds the catalog unless it exists, and takes the settings.</summary>
    public CatalogChange Seed(ImmutableArray<BackendSpec> seed, PoolSettings settings, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (Current.Initialized && Current.Settings == settings)
        {
            return CatalogChange.Unchanged;
        }

        var next = Current.Clone();
        next.Settings = settings;
        if (!next.Initialized)
        {
            // The seed starts together, with no traffic yet to protect: no slow start for it (AddedAt left at MinValue).
            next.Backends = [.. seed
                .OrderBy(b => b.Id, StringComparer.Ordinal)
                .Select(b => new BackendRecord { Id = b.Id, Address = b.Address, Weight = b.Weight, MaxInFlight = b.MaxInFlight, PinGeneration = PinGenerations.First(now) })];
            next.Initialized = true;
            next.RegistryVersion++;
        }

        return new CatalogChange(AdminOutcome.Done, next);
    }

    /// <summary>Adds a backend; a conflict when its id exists.</summary>
    public CatalogChange Add(BackendSpec spec, string actor, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (Invalid(BackendRules.Check(spec.Id, spec.Address, spec.Weight, spec.MaxInFlight)) is { } invalid)
        {
            return invalid;
        }

        if (Current.Find(spec.Id) is not null)
        {
            return CatalogChange.Refused(AdminOutcome.Conflict, $"Backend '{spec.Id}' exists; change it with PUT.");
        }

        var next = Changed();
        next.Initialized = true;
        next.Backends.Add(new BackendRecord { Id = spec.Id, Address = spec.Address, Weight = spec.Weight, MaxInFlight = spec.MaxInFlight, AddedAt = now, PinGeneration = PinGenerations.First(now) });
        next.Backends.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
        var detail = string.Create(CultureInfo.InvariantCulture, $"address {spec.Address}, weight {spec.Weight}, max in flight {spec.MaxInFlight}");
        return new CatalogChange(AdminOutcome.Created, next, new PoolEvent(PoolEventKind.BackendAdded, spec.Id, actor, detail));
    }

    /// <summary>Changes the fields <paramref name="patch"/> sets on an existing backend.</summary>
    public CatalogChange Update(string backendId, BackendPatch patch, string actor)
    {
        ArgumentNullException.ThrowIfNull(patch);
        if (Current.Find(backendId) is not { } backend)
        {
            return NotFound(backendId);
        }

        var (address, weight, maxInFlight) = (patch.Address ?? backend.Address, patch.Weight ?? backend.Weight, patch.MaxInFlight ?? backend.MaxInFlight);
        if (Invalid(BackendRules.Check(backendId, address, weight, maxInFlight)) is { } invalid)
        {
            return invalid;
        }

        var changes = new List<string>();
        Describe(changes, "address", backend.Address, address);
        Describe(changes, "weight", backend.Weight, weight);
        Describe(changes, "max in flight", backend.MaxInFlight, maxInFlight);
        if (changes.Count == 0)
        {
            return CatalogChange.Unchanged;
        }

        var next = Changed();
        var changed = next.Find(backendId)!;
        (changed.Address, changed.Weight, changed.MaxInFlight) = (address, weight, maxInFlight);
        return new CatalogChange(AdminOutcome.Done, next, new PoolEvent(PoolEventKind.BackendChanged, backendId, actor, string.Join(", ", changes)));
    }

    /// <summary>Removes a backend.</summary>
    public CatalogChange Remove(string backendId, string actor)
    {
        if (Current.Find(backendId) is null)
        {
            return NotFound(backendId);
        }

        var next = Changed();
        next.Backends.RemoveAll(b => b.Id == backendId);
        return new CatalogChange(AdminOutcome.Done, next, new PoolEvent(PoolEventKind.BackendRemoved, backendId, actor));
    }

    /// <summary>Drains a backend until <paramref name="now"/> + <paramref name="timeout"/> (default: the pool's drain timeout).</summary>
    public CatalogChange Drain(string backendId, TimeSpan? timeout, string actor, DateTimeOffset now)
    {
        if (timeout is { } asked && BackendRules.CheckDrainTimeout(asked) is { } violation)
        {
            return CatalogChange.Refused(AdminOutcome.Invalid, violation.ToString());
        }

        if (Current.Find(backendId) is null)
        {
            return NotFound(backendId);
        }

        var next = Changed();
        var backend = next.Find(backendId)!;
        (backend.State, backend.DrainDeadline) = (BackendState.Draining, now + (timeout ?? Current.EffectiveSettings.DrainTimeout));
        return new CatalogChange(AdminOutcome.Done, next, new PoolEvent(PoolEventKind.DrainStarted, backendId, actor, Until: backend.DrainDeadline));
    }

    /// <summary>Undoes a drain.</summary>
    public CatalogChange CancelDrain(string backendId, string actor)
    {
        if (Current.Find(backendId) is not { } current)
        {
            return NotFound(backendId);
        }

        if (current.State == BackendState.Active)
        {
            return CatalogChange.Unchanged;
        }

        var next = Changed();
        var backend = next.Find(backendId)!;
        (backend.State, backend.DrainDeadline) = (BackendState.Active, null);
        return new CatalogChange(AdminOutcome.Done, next, new PoolEvent(PoolEventKind.DrainCancelled, backendId, actor));
    }

    /// <summary>Drains whose deadline passed since the last call (each raised once).</summary>
    public List<PoolEvent> DrainsFinished(DateTimeOffset now)
    {
        var events = new List<PoolEvent>();
        _drainsFinished.RemoveWhere(id => Current.Find(id)?.DrainedOut(now) != true);
        foreach (var backend in Current.Backends)
        {
            if (backend.DrainedOut(now) && _drainsFinished.Add(backend.Id))
            {
                events.Add(new PoolEvent(PoolEventKind.DrainFinished, backend.Id, Until: backend.DrainDeadline));
            }
        }

        return events;
    }

    // Refused as invalid, naming every value at fault as the admin API returns it.
    private static CatalogChange? Invalid(List<RuleViolation> violations) =>
        violations.Count == 0 ? null : CatalogChange.Refused(AdminOutcome.Invalid, string.Join(" ", violations));

    private static CatalogChange NotFound(string backendId) => CatalogChange.Refused(AdminOutcome.NotFound, $"There is no backend '{backendId}'.");

    private static void Describe<T>(List<string> changes, string field, T before, T after)
    {
        if (!EqualityComparer<T>.Default.Equals(before, after))
        {
            changes.Add(string.Create(CultureInfo.InvariantCulture, $"{field} {before} → {after}"));
        }
    }

    private PoolState Changed()
    {
        var next = Current.Clone();
        next.RegistryVersion++;
        return next;
    }
}
