using System.Collections.Immutable;
using Distributed.Grains.Abstractions;

namespace Distributed.Grains.Tests.Pools;

[Trait("Category", "Grains")]
public sealed class PoolGrainPanicTests(GrainClusterFixture cluster) : IClassFixture<GrainClusterFixture>
{
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan Ejection = TimeSpan.FromSeconds(10);

    private static readonly ImmutableArray<BackendSpec> Four =
    [
        new("b1", "http://127.0.0.1:5001/", 1),
        new("b2", "http://127.0.0.1:5002/", 1),
        new("b3", "http://127.0.0.1:5003/", 1),
        new("b4", "http://127.0.0.1:5004/", 1),
    ];

    // Passive health makes backends unhealthy here (no probes); any share of the pool may be ejected.
    private static readonly PoolSettings Settings = PoolSettings.Default with
    {
        Active = ActiveHealthSettings.Default with { Path = "" },
        Passive = PassiveHealthSettings.Default with { ConsecutiveFailures = 3, EjectionTime = Ejection, MaxEjectionTime = Ejection, MaxEjectedPercent = 100 },
    };

    private IPoolGrain NewPool() => cluster.Client.GetGrain<IPoolGrain>($"pool-{Guid.NewGuid():N}");

    private static Task<PoolSnapshot> EjectAsync(IPoolGrain pool, string backend) =>
        pool.ReportAsync(new LoadReport("g1", [new BackendLoad(backend, 0, 3, 3)], Lease));

    // A report carries the pool grain's clock forward (a tick does too, within a second).
    private static Task<PoolSnapshot> SettledAsync(IPoolGrain pool, Func<PoolSnapshot, bool> until) =>
        GrainClusterFixture.EventuallyAsync(() => pool.ReportAsync(new LoadReport("g1", [], Lease)), until);

    private static BackendSnapshot Of(PoolSnapshot snapshot, string id) => snapshot.Backends.Single(b => b.Id == id);

    [Fact]
    public async Task Panic_BelowHalfOfThePoolHealthy_StartsAndEveryActiveBackendServes()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Four, Settings);

        await EjectAsync(pool, "b2");
        await EjectAsync(pool, "b3");
        var two = await SettledAsync(pool, s => !Of(s, "b3").KeepsSessions);
        Assert.False(two.Panic); // 2 of 4 healthy: at the threshold (50%), not below it
        Assert.False(Of(two, "b2").AcceptsNewSessions);

        await EjectAsync(pool, "b4");
        var one = await SettledAsync(pool, s => s.Panic && s.Backends.All(b => b.KeepsSessions));
        Assert.True(one.Panic, "1 of 4 healthy is below the default threshold of 50%: the survivor must not take every new session");
        Assert.All(one.Backends, b => Assert.True(b.AcceptsNewSessions && b.KeepsSessions));
    }

    [Fact]
    public async Task Panic_EnteredAndLeft_NeverMovesThePinGenerationOfBackendsThatKeptServing()
    {
        var pool = NewPool();
        var seeded = await pool.InitializeAsync(Four, Settings);
        await EjectAsync(pool, "b2");
        cluster.Time.Advance(TimeSpan.FromSeconds(2));
        await EjectAsync(pool, "b3");
        cluster.Time.Advance(TimeSpan.FromSeconds(2));
        await EjectAsync(pool, "b4");
        var panic = await SettledAsync(pool, s => s.Panic && s.Backends.All(b => b.KeepsSessions));
        Assert.True(panic.Panic);

        // b2 is back: 2 of 4 healthy, no longer below the threshold, but panic holds until one more is back
        // (hysteresis), so a backend recovering at the edge does not re-pin the sessions of the others.
        cluster.Time.Advance(Ejection - TimeSpan.FromSeconds(4) + TimeSpan.FromMilliseconds(1));
        var edge = await SettledAsync(pool, s => Of(s, "b2").Health == BackendHealth.Healthy);
        Assert.True(edge.Panic);
        Assert.All(edge.Backends, b => Assert.True(b.KeepsSessions));

        // b3 is back too: 3 of 4, panic ends and only the backend still ejected stops keeping sessions. The others kept
        // serving through it: their generations (the ones gateways cached pins under) stay, so nothing is re-pinned.
        cluster.Time.Advance(TimeSpan.FromSeconds(2));
        var after = await SettledAsync(pool, s => !s.Panic && !Of(s, "b4").KeepsSessions);
        Assert.False(after.Panic);
        foreach (var id in (string[])["b1", "b2", "b3"])
        {
            Assert.True(Of(after, id).KeepsSessions);
            Assert.Equal(Of(panic, id).PinGeneration, Of(after, id).PinGeneration);
        }

        Assert.Equal(Of(seeded, "b1").PinGeneration, Of(after, "b1").PinGeneration); // healthy throughout
        Assert.True(Of(after, "b4").PinGeneration > Of(panic, "b4").PinGeneration);
    }
}
