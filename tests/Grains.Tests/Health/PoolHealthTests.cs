using Distributed.Grains.Abstractions;
using Distributed.Grains.Health;
using Distributed.Grains.Pools;

namespace Distributed.Grains.Tests.Health;

[Trait("Category", "Unit")]
public sealed class PoolHealthTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    private static PoolState Catalog(int backends, PoolSettings? settings = null) => new()
    {
        Initialized = true,
        Settings = settings ?? PoolSettings.Default,
        Backends = [.. Enumerable.Range(1, backends).Select(i => new BackendRecord { Id = $"b{i}", Address = $"http://127.0.0.1:{5000 + i}/" })],
    };

    private static Dictionary<string, bool> Keeps(PoolHealth health, PoolState catalog, DateTimeOffset now) =>
        catalog.Backends.ToDictionary(b => b.Id, b => health.KeepsSessions(b, catalog.EffectiveSettings, now));

    [Fact]
    public void Panic_EnteredAndLeft_NeverFlipsTheBackendsThatStayedHealthy()
    {
        var catalog = Catalog(10);
        var health = new PoolHealth();
        foreach (var id in Enumerable.Range(1, 6).Select(i => $"b{i}"))
        {
            health.RecordProbe(id, healthy: false, T0);
        }

        var entered = health.Advance(catalog, T0);
        Assert.Equal(PoolEventKind.PanicEntered, Assert.Single(entered).Kind);
        Assert.All(Keeps(health, catalog, T0).Values, Assert.True);

        // Back one by one: 5 of 10 healthy is the threshold's edge (still panic), 6 ends it; b7..b10 were healthy
        // throughout and kept sessions at every step, so their pin generations never move.
        health.RecordProbe("b1", healthy: true, T0);
        Assert.Empty(health.Advance(catalog, T0));
        Assert.True(health.Panic);
        Assert.All(Keeps(health, catalog, T0).Values, Assert.True);

        health.RecordProbe("b2", healthy: true, T0);
        Assert.Equal(PoolEventKind.PanicLeft, Assert.Single(health.Advance(catalog, T0)).Kind);
        var keeps = Keeps(health, catalog, T0);
        Assert.All(Enumerable.Range(1, 2).Concat(Enumerable.Range(7, 4)), i => Assert.True(keeps[$"b{i}"]));
        Assert.All(Enumerable.Range(3, 4), i => Assert.False(keeps[$"b{i}"]));
    }

    [Fact]
    public void Verdict_ProbeUnknown_IsHealthyForSeededBackendsAndUnknownForAddedOnesWaitingForAPass()
    {
        var settings = PoolSettings.Default with { Active = ActiveHealthSettings.Default with { WaitForFirstPass = true } };
        var catalog = Catalog(2, settings);
        catalog.Backends[1].AddedAt = T0;
        var health = new PoolHealth();

        Assert.Equal(BackendHealth.Healthy, health.Verdict(catalog.Backends[0], settings, T0));
        Assert.Equal(BackendHealth.Unknown, health.Verdict(catalog.Backends[1], settings, T0));

        // Not checked yet is not unhealthy: it neither counts against the pool nor takes traffic in panic.
        health.RecordProbe("b1", healthy: false, T0);
        health.Advance(catalog, T0);
        Assert.True(health.Panic);
        Assert.False(health.Serves(catalog.Backends[1], settings, T0));
        Assert.True(health.Serves(catalog.Backends[0], settings, T0));
    }

    [Fact]
    public void Restore_BackendStoredAsNotKeepingSessions_StaysUnhealthyUntilItsProberSaysOtherwise()
    {
        var catalog = Catalog(3);
        catalog.Backends[0].KeepsSessions = false;
        catalog.Backends[1].KeepsSessions = false;
        (catalog.Backends[1].State, catalog.Backends[1].DrainDeadline) = (BackendState.Draining, T0); // drained, not unhealthy
        var health = new PoolHealth();

        health.Restore(catalog, T0);

        Assert.Equal(BackendHealth.Unhealthy, health.Verdict(catalog.Backends[0], catalog.EffectiveSettings, T0));
        Assert.Equal(BackendHealth.Healthy, health.Verdict(catalog.Backends[1], catalog.EffectiveSettings, T0));
        Assert.Equal(PoolEventKind.Healthy, health.RecordProbe("b1", healthy: true, T0)!.Kind);
    }

    [Fact]
    public void UsableSince_AfterAnEjection_IsWhenItEndedEvenBeforeTimeWasAdvanced()
    {
        var settings = PoolSettings.Default with { Passive = PassiveHealthSettings.Default with { ConsecutiveFailures = 2, EjectionTime = TimeSpan.FromSeconds(10) } };
        var catalog = Catalog(2, settings);
        var health = new PoolHealth();
        health.RecordOutcomes("b1", 2, 2, T0, settings.Passive);
        Assert.Equal(PoolEventKind.Ejected, Assert.Single(health.Advance(catalog, T0)).Kind);

        var later = T0.AddSeconds(12);
        Assert.Equal(BackendHealth.Healthy, health.Verdict(catalog.Backends[0], settings, later));
        Assert.Equal(T0.AddSeconds(10), health.UsableSince(catalog.Backends[0], later));
        Assert.Equal(PoolEventKind.Readmitted, Assert.Single(health.Advance(catalog, later)).Kind);
        Assert.Equal(T0.AddSeconds(10), health.UsableSince(catalog.Backends[0], later));
    }
}
