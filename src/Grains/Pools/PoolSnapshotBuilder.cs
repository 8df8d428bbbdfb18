using System.Collections.Immutable;
using Distributed.Grains.Abstractions;
using Distributed.Grains.Health;

namespace Distributed.Grains.Pools;

/// <summary>
/// Builds a pool's snapshot from its parts at one instant. Reads only: advancing time (leases running out, ejections
/// ending, panic) is the grain's separate step, so reading a snapshot never changes or writes anything.
/// </summary>
public static class PoolSnapshotBuilder
{
    /// <summary>
    /// The snapshot at <paramref name="now"/>. Health, load and whether a backend takes new sessions are live; whether it
    /// keeps sessions and under which pin generation come from the stored catalog, so no gateway acts on a generation
    /// that a crash could take back.
    /// </summary>
    public static PoolSnapshot Build(string pool, PoolState catalog, GatewayLeases leases, PoolHealth health, PinGenerations generations, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(leases);
        ArgumentNullException.ThrowIfNull(health);
        ArgumentNullException.ThrowIfNull(generations);
        var settings = catalog.EffectiveSettings;
        var inFlight = leases.InFlight(now);
        var backends = ImmutableArray.CreateBuilder<BackendSnapshot>(catalog.Backends.Count);
        foreach (var backend in catalog.Backends)
        {
            backends.Add(new BackendSnapshot(
                backend.Id,
                backend.Address,
                backend.Weight,
                backend.State,
                inFlight.GetValueOrDefault(backend.Id),
                health.Verdict(backend, settings, now),
                backend.Weight * SlowStart.Factor(health.UsableSince(backend, now), now, settings.SlowStart),
                backend.MaxInFlight,
                AcceptsNewSessions: backend.State == BackendState.Active && health.Serves(backend, settings, now),
                KeepsSessions: backend.KeepsSessions,
                backend.DrainDeadline,
                health.RequestRate(backend.Id, now, settings.Passive.Window),
                backend.PinGeneration));
        }

        var gateways = leases.Gateways(now);
        return new PoolSnapshot(
            pool,
            catalog.RegistryVersion,
            backends.MoveToImmutable(),
            gateways.Length,
            now,
            health.Panic,
            generations.RecentlyUnpinned(now),
            gateways,
            Unseeded: !catalog.Initialized);
    }
}
