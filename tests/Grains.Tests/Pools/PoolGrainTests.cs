using System.Collections.Immutable;
using Distributed.Grains.Abstractions;

namespace Distributed.Grains.Tests.Pools;

[Trait("Category", "Grains")]
public sealed class PoolGrainTests(GrainClusterFixture cluster) : IClassFixture<GrainClusterFixture>
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(1);
    private static readonly ImmutableArray<BackendSpec> Seed =
    [
        new("b2", "http://127.0.0.1:5002/", 1),
        new("b1", "http://127.0.0.1:5001/", 2),
    ];

    // No active probes here (they would probe real addresses on real timers); passive health acts on reports.
    private static readonly PoolSettings Settings = PoolSettings.Default with
    {
        Active = ActiveHealthSettings.Default with { Path = "" },
        Passive = PassiveHealthSettings.Default with { ConsecutiveFailures = 3, EjectionTime = TimeSpan.FromSeconds(10), MaxEjectionTime = TimeSpan.FromSeconds(40) },
        SlowStart = TimeSpan.FromSeconds(10),
    };

    private IPoolGrain NewPool() => cluster.Client.GetGrain<IPoolGrain>($"pool-{Guid.NewGuid():N}");

    private static LoadReport Report(string gateway, params (string Backend, int InFlight)[] load) =>
        new(gateway, [.. load.Select(l => new BackendLoad(l.Backend, l.InFlight))], Lease);

    [Fact]
    public async Task InitializeAsync_FirstSeed_IsTheRegistryOrderedById()
    {
        var snapshot = await NewPool().InitializeAsync(Seed, Settings);

        Assert.Equal(1, snapshot.RegistryVersion);
        Assert.Equal(["b1", "b2"], snapshot.Backends.Select(b => b.Id));
        Assert.Equal(2, snapshot.Backends[0].Weight);
        Assert.All(snapshot.Backends, b => Assert.Equal(BackendState.Active, b.State));
    }

    [Fact]
    public async Task InitializeAsync_RegistryExists_KeepsItAgainstAnotherSeed()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Settings);

        var snapshot = await pool.InitializeAsync([new BackendSpec("b9", "http://127.0.0.1:5009/", 1)], Settings);

        Assert.Equal(1, snapshot.RegistryVersion);
        Assert.Equal(["b1", "b2"], snapshot.Backends.Select(b => b.Id));
    }

    [Fact]
    public async Task ReportAsync_TwoGateways_InFlightIsSummedPerBackend()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Settings);

        await pool.ReportAsync(Report("g1", ("b1", 3), ("b2", 1)));
        var snapshot = await pool.ReportAsync(Report("g2", ("b1", 4)));

        Assert.Equal(2, snapshot.LiveGateways);
        Assert.Equal(7, snapshot.Backends.Single(b => b.Id == "b1").ClusterInFlight);
        Assert.Equal(1, snapshot.Backends.Single(b => b.Id == "b2").ClusterInFlight);
    }

    [Fact]
    public async Task ReportAsync_GatewayStopsReporting_ItsLoadVanishesWhenItsLeaseRunsOut()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Settings);
        await pool.ReportAsync(Report("silent", ("b1", 10)));

        cluster.Time.Advance(Lease / 2);
        var stillLeased = await pool.ReportAsync(Report("alive", ("b1", 1)));
        Assert.Equal(11, stillLeased.Backends.Single(b => b.Id == "b1").ClusterInFlight);

        cluster.Time.Advance(Lease / 2 + TimeSpan.FromMilliseconds(1));
        var expired = await pool.GetSnapshotAsync();
        Assert.Equal(1, expired.LiveGateways);
        Assert.Equal(1, expired.Backends.Single(b => b.Id == "b1").ClusterInFlight);
    }

    [Fact]
    public async Task ReleaseLeaseAsync_GatewayShutsDown_ItsLoadLeavesTheSnapshotBeforeItsLeaseRunsOut()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Settings);
        await pool.ReportAsync(Report("leaving", ("b1", 10), ("b2", 3)));
        await pool.ReportAsync(Report("staying", ("b1", 1)));

        // The clock does not move: only the release can take the counts out.
        await pool.ReleaseLeaseAsync("leaving");
        var snapshot = await pool.GetSnapshotAsync();

        Assert.Equal(1, snapshot.LiveGateways);
        Assert.Equal(["staying"], snapshot.Gateways.Select(g => g.Id));
        Assert.Equal(1, snapshot.Backends.Single(b => b.Id == "b1").ClusterInFlight);
        Assert.Equal(0, snapshot.Backends.Single(b => b.Id == "b2").ClusterInFlight);

        // Releasing twice, or a gateway that never reported, changes nothing.
        await pool.ReleaseLeaseAsync("leaving");
        await pool.ReleaseLeaseAsync("never-reported");
        Assert.Equal(1, (await pool.GetSnapshotAsync()).LiveGateways);
        await Assert.ThrowsAsync<ArgumentException>(() => pool.ReleaseLeaseAsync(" "));
    }

    [Fact]
    public async Task ReportAsync_NewReportFromTheSameGateway_ReplacesItsPreviousCounts()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Settings);
        await pool.ReportAsync(Report("g1", ("b1", 5)));

        var snapshot = await pool.ReportAsync(Report("g1", ("b2", 2)));

        Assert.Equal(0, snapshot.Backends.Single(b => b.Id == "b1").ClusterInFlight);
        Assert.Equal(2, snapshot.Backends.Single(b => b.Id == "b2").ClusterInFlight);
    }

    [Fact]
    public async Task ReportAsync_InvalidReports_AreRejected()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Settings);

        await Assert.ThrowsAsync<ArgumentException>(() => pool.ReportAsync(Report("", ("b1", 1))));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => pool.ReportAsync(Report("g1", ("b1", 1)) with { Lease = TimeSpan.Zero }));
        Assert.Equal(0, (await pool.GetSnapshotAsync()).LiveGateways);
    }

    private static LoadReport Outcomes(string gateway, string backend, long completed, long failed) =>
        new(gateway, [new BackendLoad(backend, 0, completed, failed)], Lease);

    [Fact]
    public async Task ReportAsync_FailuresInARowFromSeveralGateways_EjectForADoublingTimeThenReturn()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Settings);

        await pool.ReportAsync(Outcomes("g1", "b2", 2, 2));
        var snapshot = await pool.ReportAsync(Outcomes("g2", "b2", 1, 1)); // 3 in a row across two gateways
        var b2 = snapshot.Backends.Single(b => b.Id == "b2");
        Assert.Equal(BackendHealth.Ejected, b2.Health);
        Assert.False(b2.AcceptsNewSessions);
        Assert.False(b2.KeepsSessions);

        cluster.Time.Advance(TimeSpan.FromSeconds(10) + TimeSpan.FromMilliseconds(1));
        Assert.Equal(BackendHealth.Healthy, (await pool.GetSnapshotAsync()).Backends.Single(b => b.Id == "b2").Health);

        await pool.ReportAsync(Outcomes("g1", "b2", 3, 3)); // again: twice as long
        cluster.Time.Advance(TimeSpan.FromSeconds(15));
        Assert.Equal(BackendHealth.Ejected, (await pool.GetSnapshotAsync()).Backends.Single(b => b.Id == "b2").Health);
        cluster.Time.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal(BackendHealth.Healthy, (await pool.GetSnapshotAsync()).Backends.Single(b => b.Id == "b2").Health);
    }

    [Fact]
    public async Task PinGeneration_BumpsWhenABackendStopsKeepingSessionsAndOnlyThen()
    {
        var pool = NewPool();
        var first = await pool.InitializeAsync(Seed, Settings);
        Assert.All(first.Backends, b => Assert.Equal(0, b.PinGeneration));

        await pool.ReportAsync(Outcomes("g1", "b2", 3, 3)); // ejected: sessions may move
        Assert.Equal(1, (await pool.GetSnapshotAsync()).Backends.Single(b => b.Id == "b2").PinGeneration);
        Assert.Equal(1, (await pool.GetSnapshotAsync()).Backends.Single(b => b.Id == "b2").PinGeneration); // once per change

        cluster.Time.Advance(TimeSpan.FromSeconds(11)); // back: the generation stays, so pins cached before are re-checked
        var back = await pool.GetSnapshotAsync();
        Assert.True(back.Backends.Single(b => b.Id == "b2") is { KeepsSessions: true, PinGeneration: 1 });
        Assert.Equal(0, back.Backends.Single(b => b.Id == "b1").PinGeneration);

        Assert.True(await pool.DrainBackendAsync("b1", TimeSpan.FromMinutes(1)));
        Assert.Equal(0, (await pool.GetSnapshotAsync()).Backends.Single(b => b.Id == "b1").PinGeneration); // pins stay while draining
        cluster.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, (await pool.GetSnapshotAsync()).Backends.Single(b => b.Id == "b1").PinGeneration); // past the deadline they move
    }

    [Fact]
    public async Task ReportAsync_ASuccessBetweenFailures_DoesNotEject()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Settings);

        await pool.ReportAsync(Outcomes("g1", "b1", 2, 2));
        await pool.ReportAsync(Outcomes("g2", "b1", 5, 1));
        var snapshot = await pool.ReportAsync(Outcomes("g1", "b1", 2, 2));

        Assert.Equal(BackendHealth.Healthy, snapshot.Backends.Single(b => b.Id == "b1").Health);
    }

    [Fact]
    public async Task ReportAsync_MaxEjectedPercent_NeverEjectsMoreThanAllowed()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Settings); // two backends, 50%: one may be ejected

        await pool.ReportAsync(Outcomes("g1", "b1", 3, 3));
        var snapshot = await pool.ReportAsync(Outcomes("g1", "b2", 3, 3));

        Assert.Single(snapshot.Backends, b => b.Health == BackendHealth.Ejected);
    }

    [Fact]
    public async Task ReportProbeAsync_EveryBackendUnhealthy_PanicRoutesToAll()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Settings);

        await pool.ReportProbeAsync("b1", healthy: false);
        var one = await GrainClusterFixture.EventuallyAsync(pool.GetSnapshotAsync, s => s.Backends.Single(b => b.Id == "b1").Health == BackendHealth.Unhealthy);
        Assert.False(one.Panic);
        Assert.False(one.Backends.Single(b => b.Id == "b1").AcceptsNewSessions);
        Assert.True(one.Backends.Single(b => b.Id == "b2").AcceptsNewSessions);

        await pool.ReportProbeAsync("b2", healthy: false);
        var both = await GrainClusterFixture.EventuallyAsync(pool.GetSnapshotAsync, s => s.Backends.Single(b => b.Id == "b2").Health == BackendHealth.Unhealthy);
        Assert.True(both.Panic);
        Assert.All(both.Backends, b => Assert.True(b.AcceptsNewSessions && b.KeepsSessions && b.Health == BackendHealth.Unhealthy));
    }

    [Fact]
    public async Task DrainBackendAsync_TakesNoNewSessionsAndKeepsPinsUntilTheDeadline()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Settings);

        Assert.True(await pool.DrainBackendAsync("b1", TimeSpan.FromMinutes(2)));
        var draining = (await pool.GetSnapshotAsync()).Backends.Single(b => b.Id == "b1");
        Assert.Equal(BackendState.Draining, draining.State);
        Assert.False(draining.AcceptsNewSessions);
        Assert.True(draining.KeepsSessions);

        cluster.Time.Advance(TimeSpan.FromMinutes(2));
        Assert.False((await pool.GetSnapshotAsync()).Backends.Single(b => b.Id == "b1").KeepsSessions);

        Assert.True(await pool.DrainBackendAsync("b1", null, cancel: true));
        Assert.True((await pool.GetSnapshotAsync()).Backends.Single(b => b.Id == "b1") is { State: BackendState.Active, AcceptsNewSessions: true, KeepsSessions: true });
        Assert.False(await pool.DrainBackendAsync("nope", null));
    }

    [Fact]
    public async Task UpsertAndRemoveBackend_ChangeTheRegistryAndItsVersion()
    {
        var pool = NewPool();
        var first = await pool.InitializeAsync(Seed, Settings);

        var added = await pool.UpsertBackendAsync(new BackendSpec("b3", "http://127.0.0.1:5003/", 4, MaxInFlight: 7));
        Assert.Equal(first.RegistryVersion + 1, added.RegistryVersion);
        Assert.Equal(["b1", "b2", "b3"], added.Backends.Select(b => b.Id));
        Assert.Equal(7, added.Backends[2].MaxInFlight);

        var updated = await pool.UpsertBackendAsync(new BackendSpec("b3", "http://127.0.0.1:6003/", 2));
        Assert.Equal("http://127.0.0.1:6003/", updated.Backends[2].Address);

        Assert.True(await pool.RemoveBackendAsync("b3"));
        Assert.False(await pool.RemoveBackendAsync("b3"));
        var removed = await pool.GetSnapshotAsync();
        Assert.Equal(["b1", "b2"], removed.Backends.Select(b => b.Id));
        Assert.Equal(updated.RegistryVersion + 1, removed.RegistryVersion);
    }

    [Fact]
    public async Task UpsertBackendAsync_NewBackend_RampsItsWeightOverTheSlowStartWindow()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Settings);
        cluster.Time.Advance(TimeSpan.FromMinutes(1));

        var added = (await pool.UpsertBackendAsync(new BackendSpec("b3", "http://127.0.0.1:5003/", 4))).Backends.Single(b => b.Id == "b3");
        Assert.Equal(0.4, added.EffectiveWeight, 3);

        cluster.Time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(2.0, (await pool.GetSnapshotAsync()).Backends.Single(b => b.Id == "b3").EffectiveWeight, 3);

        cluster.Time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(4.0, (await pool.GetSnapshotAsync()).Backends.Single(b => b.Id == "b3").EffectiveWeight, 3);
    }

    [Fact]
    public async Task NotifyUnpinnedAsync_IsAnnouncedInSnapshotsForAFewMinutes()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Settings);

        await pool.NotifyUnpinnedAsync("alice");
        Assert.Contains("alice", (await pool.GetSnapshotAsync()).RecentlyUnpinned);

        cluster.Time.Advance(TimeSpan.FromMinutes(6)); // still announced past a gateway's default confirmation interval
        Assert.Contains("alice", (await pool.GetSnapshotAsync()).RecentlyUnpinned);

        cluster.Time.Advance(TimeSpan.FromMinutes(5));
        Assert.DoesNotContain("alice", (await pool.GetSnapshotAsync()).RecentlyUnpinned);
    }
}
