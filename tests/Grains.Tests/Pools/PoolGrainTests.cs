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
    public async Task InitializeAsync_FirstSeed_IsTheCatalogOrderedById()
    {
        var snapshot = await NewPool().InitializeAsync(Seed, Settings);

        Assert.Equal(1, snapshot.RegistryVersion);
        Assert.Equal(["b1", "b2"], snapshot.Backends.Select(b => b.Id));
        Assert.Equal(2, snapshot.Backends[0].Weight);
        Assert.All(snapshot.Backends, b => Assert.Equal(BackendState.Active, b.State));
    }

    [Fact]
    public async Task InitializeAsync_CatalogExists_KeepsItAgainstAnotherSeed()
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

    private static BackendSnapshot Of(PoolSnapshot snapshot, string id) => snapshot.Backends.Single(b => b.Id == id);

    // Whether a backend keeps sessions changes in the background (stored first, then shown): wait for it.
    private static Task<PoolSnapshot> KeepsSessionsAsync(IPoolGrain pool, string id, bool keeps) =>
        GrainClusterFixture.EventuallyAsync(pool.GetSnapshotAsync, s => Of(s, id).KeepsSessions == keeps);

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
        Assert.False(Of(await KeepsSessionsAsync(pool, "b2", false), "b2").KeepsSessions); // once stored

        cluster.Time.Advance(TimeSpan.FromSeconds(10) + TimeSpan.FromMilliseconds(1));
        Assert.Equal(BackendHealth.Healthy, (await pool.GetSnapshotAsync()).Backends.Single(b => b.Id == "b2").Health);

        await pool.ReportAsync(Outcomes("g1", "b2", 3, 3)); // again: twice as long
        cluster.Time.Advance(TimeSpan.FromSeconds(15));
        Assert.Equal(BackendHealth.Ejected, (await pool.GetSnapshotAsync()).Backends.Single(b => b.Id == "b2").Health);
        cluster.Time.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal(BackendHealth.Healthy, (await pool.GetSnapshotAsync()).Backends.Single(b => b.Id == "b2").Health);
    }

    [Fact]
    public async Task PinGeneration_MovesOnWithEveryKeepsSessionsChangeAndOnlyThen()
    {
        var pool = NewPool();
        var first = await pool.InitializeAsync(Seed, Settings);
        var seeded = cluster.Time.GetUtcNow().ToUnixTimeMilliseconds();
        Assert.All(first.Backends, b => Assert.Equal(seeded, b.PinGeneration)); // the clock, not zero: see Reseeded_... below
        long Generation(PoolSnapshot snapshot, string id) => snapshot.Backends.Single(b => b.Id == id).PinGeneration;

        await pool.ReportAsync(Outcomes("g1", "b2", 3, 3)); // ejected: sessions may move
        var ejected = Generation(await KeepsSessionsAsync(pool, "b2", false), "b2");
        Assert.True(ejected > seeded);
        await pool.ReportAsync(Outcomes("g1", "b1", 1, 0));
        Assert.Equal(ejected, Generation(await pool.GetSnapshotAsync(), "b2")); // once per change

        cluster.Time.Advance(TimeSpan.FromSeconds(11)); // back: a new generation again, so "keeps" and "stopped" never share one
        var back = await KeepsSessionsAsync(pool, "b2", true);
        Assert.True(Generation(back, "b2") > ejected);
        Assert.Equal(seeded, Generation(back, "b1"));

        Assert.True((await pool.DrainBackendAsync("b1", TimeSpan.FromMinutes(1), "test")).Succeeded);
        Assert.Equal(seeded, Generation(await pool.GetSnapshotAsync(), "b1")); // pins stay while draining
        cluster.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.True(Generation(await KeepsSessionsAsync(pool, "b1", false), "b1") > seeded); // past the deadline they move
    }

    [Fact]
    public async Task GetSnapshotAsync_OfAPoolWithoutCatalog_SaysUnseededUntilSeeded()
    {
        var pool = NewPool();
        var empty = await pool.GetSnapshotAsync();
        Assert.True(empty.Unseeded);
        Assert.Empty(empty.Backends);

        Assert.False((await pool.InitializeAsync(Seed, Settings)).Unseeded);
        Assert.False((await pool.GetSnapshotAsync()).Unseeded);
    }

    [Fact]
    public async Task PinGeneration_OfACatalogSeededAgainLater_IsAboveEveryEarlierGeneration()
    {
        // A store that lost its data makes the pool seed again; generations recorded before must all be older.
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Settings);
        await pool.ReportAsync(Outcomes("g1", "b2", 3, 3));
        var before = (await KeepsSessionsAsync(pool, "b2", false)).Backends.Max(b => b.PinGeneration);

        cluster.Time.Advance(TimeSpan.FromSeconds(1));
        var again = await NewPool().InitializeAsync(Seed, Settings);
        Assert.All(again.Backends, b => Assert.True(b.PinGeneration > before));
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

    // Probing on, but the real probers get one probe each in the test (Rise 2, Fall 3): no verdict of their own.
    private static readonly PoolSettings Probed = Settings with { Active = ActiveHealthSettings.Default with { Interval = TimeSpan.FromHours(1) } };

    [Fact]
    public async Task ReportProbeAsync_EveryBackendUnhealthy_PanicRoutesToAll()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Probed);

        await pool.ReportProbeAsync("b1", "http://127.0.0.1:5001/", healthy: false);
        var one = await GrainClusterFixture.EventuallyAsync(pool.GetSnapshotAsync, s => Of(s, "b1").Health == BackendHealth.Unhealthy);
        Assert.False(one.Panic); // 1 of 2 healthy: not below the default threshold (50%)
        Assert.False(Of(one, "b1").AcceptsNewSessions);
        Assert.True(Of(one, "b2").AcceptsNewSessions);

        await pool.ReportProbeAsync("b2", "http://127.0.0.1:5002/", healthy: false);
        var both = await GrainClusterFixture.EventuallyAsync(pool.GetSnapshotAsync, s => s.Panic && s.Backends.All(b => b.KeepsSessions && b.Health == BackendHealth.Unhealthy));
        Assert.True(both.Panic);
        Assert.All(both.Backends, b => Assert.True(b.AcceptsNewSessions && b.KeepsSessions && b.Health == BackendHealth.Unhealthy));
    }

    [Fact]
    public async Task ReportProbeAsync_AboutAnotherAddress_IsIgnored()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Probed);
        Assert.True((await pool.UpdateBackendAsync("b1", new BackendPatch(Address: "http://127.0.0.1:6001/"), "test")).Succeeded);

        // The prober of the old address has not heard of the change yet; the two-way calls after it are queued behind it.
        await pool.ReportProbeAsync("b1", "http://127.0.0.1:5001/", healthy: false);
        await pool.ReportAsync(Report("g1"));
        Assert.Equal(BackendHealth.Healthy, Of(await pool.GetSnapshotAsync(), "b1").Health);

        await pool.ReportProbeAsync("b1", "http://127.0.0.1:6001/", healthy: false);
        Assert.Equal(BackendHealth.Unhealthy, Of(await GrainClusterFixture.EventuallyAsync(pool.GetSnapshotAsync, s => Of(s, "b1").Health == BackendHealth.Unhealthy), "b1").Health);
    }

    [Fact]
    public async Task AddBackendAsync_WaitingForTheFirstPass_TakesNoSessionsUntilItsProberPasses()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Probed with { Active = Probed.Active with { WaitForFirstPass = true } });

        var added = await pool.AddBackendAsync(new BackendSpec("b3", "http://127.0.0.1:5003/", 1), "test");
        Assert.Equal(AdminOutcome.Created, added.Outcome);
        Assert.True(Of(added.Snapshot, "b1").AcceptsNewSessions); // seeded backends start together: not held back
        Assert.Equal(BackendHealth.Unknown, Of(added.Snapshot, "b3").Health);
        Assert.False(Of(added.Snapshot, "b3").AcceptsNewSessions);

        await pool.ReportProbeAsync("b3", "http://127.0.0.1:5003/", healthy: true);
        var passed = await KeepsSessionsAsync(pool, "b3", true);
        Assert.Equal(BackendHealth.Healthy, Of(passed, "b3").Health);
        Assert.True(Of(passed, "b3").AcceptsNewSessions);
    }

    [Fact]
    public async Task DrainBackendAsync_TakesNoNewSessionsAndKeepsPinsUntilTheDeadline()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Settings);

        var drained = await pool.DrainBackendAsync("b1", TimeSpan.FromMinutes(2), "test");
        Assert.Equal(AdminOutcome.Done, drained.Outcome);
        var draining = Of(drained.Snapshot, "b1");
        Assert.Equal(BackendState.Draining, draining.State);
        Assert.False(draining.AcceptsNewSessions);
        Assert.True(draining.KeepsSessions);

        cluster.Time.Advance(TimeSpan.FromMinutes(2));
        await KeepsSessionsAsync(pool, "b1", false);

        Assert.Equal(AdminOutcome.Done, (await pool.CancelDrainAsync("b1", "test")).Outcome);
        Assert.True(Of(await KeepsSessionsAsync(pool, "b1", true), "b1") is { State: BackendState.Active, AcceptsNewSessions: true, KeepsSessions: true });
        Assert.Equal(AdminOutcome.NotFound, (await pool.DrainBackendAsync("nope", null, "test")).Outcome);
        Assert.Equal(AdminOutcome.Invalid, (await pool.DrainBackendAsync("b1", TimeSpan.FromDays(8), "test")).Outcome);
    }

    [Fact]
    public async Task AddUpdateRemoveBackend_ChangeTheCatalogAndItsVersion()
    {
        var pool = NewPool();
        var first = await pool.InitializeAsync(Seed, Settings);

        var added = await pool.AddBackendAsync(new BackendSpec("b3", "http://127.0.0.1:5003/", 4, MaxInFlight: 7), "test");
        Assert.Equal(AdminOutcome.Created, added.Outcome);
        Assert.Equal(first.RegistryVersion + 1, added.Snapshot.RegistryVersion);
        Assert.Equal(["b1", "b2", "b3"], added.Snapshot.Backends.Select(b => b.Id));
        Assert.Equal(7, Of(added.Snapshot, "b3").MaxInFlight);

        var again = await pool.AddBackendAsync(new BackendSpec("b3", "http://127.0.0.1:7003/", 1), "test");
        Assert.Equal(AdminOutcome.Conflict, again.Outcome);
        Assert.Equal("http://127.0.0.1:5003/", Of(again.Snapshot, "b3").Address);

        var updated = await pool.UpdateBackendAsync("b3", new BackendPatch(Address: "http://127.0.0.1:6003/", Weight: 2), "test");
        Assert.Equal(AdminOutcome.Done, updated.Outcome);
        Assert.True(Of(updated.Snapshot, "b3") is { Address: "http://127.0.0.1:6003/", Weight: 2, MaxInFlight: 7 });
        Assert.Equal(AdminOutcome.Invalid, (await pool.UpdateBackendAsync("b3", new BackendPatch(Weight: 0), "test")).Outcome);
        Assert.Equal(AdminOutcome.Invalid, (await pool.AddBackendAsync(new BackendSpec("b 4", "file:///etc/passwd", 1), "test")).Outcome);

        Assert.Equal(AdminOutcome.Done, (await pool.RemoveBackendAsync("b3", "test")).Outcome);
        Assert.Equal(AdminOutcome.NotFound, (await pool.RemoveBackendAsync("b3", "test")).Outcome);
        Assert.Equal(AdminOutcome.NotFound, (await pool.UpdateBackendAsync("b3", new BackendPatch(Weight: 3), "test")).Outcome);
        var removed = await pool.GetSnapshotAsync();
        Assert.Equal(["b1", "b2"], removed.Backends.Select(b => b.Id));
        Assert.Equal(updated.Snapshot.RegistryVersion + 1, removed.RegistryVersion);
    }

    [Fact]
    public async Task AddBackendAsync_ConcurrentCallsForOneId_OneIsCreatedTheOthersConflict()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Settings);

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => pool.AddBackendAsync(new BackendSpec("b3", $"http://127.0.0.1:{6000 + i}/", 1), $"caller {i}")));

        Assert.Single(results, r => r.Outcome == AdminOutcome.Created);
        Assert.Equal(7, results.Count(r => r.Outcome == AdminOutcome.Conflict));
    }

    [Fact]
    public async Task UpdateBackendAsync_RacingItsRemoval_NeverBringsItBack()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Settings);

        var update = pool.UpdateBackendAsync("b2", new BackendPatch(Weight: 9), "one");
        var remove = pool.RemoveBackendAsync("b2", "other");
        await Task.WhenAll(update, remove);

        Assert.Equal(AdminOutcome.Done, (await remove).Outcome);
        Assert.Contains((await update).Outcome, new[] { AdminOutcome.Done, AdminOutcome.NotFound });
        Assert.DoesNotContain((await pool.GetSnapshotAsync()).Backends, b => b.Id == "b2");
    }

    [Fact]
    public async Task AdminOperations_AreLoggedOnceWithWhoDidThem()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Settings);
        var actor = $"10.0.0.7 via gateway-{Guid.NewGuid():N}";

        await pool.AddBackendAsync(new BackendSpec("b3", "http://127.0.0.1:5003/", 1), actor);
        await pool.DrainBackendAsync("b3", TimeSpan.FromMinutes(1), actor);
        await pool.RemoveBackendAsync("b3", actor);
        await pool.RemoveBackendAsync("b3", actor); // refused: nothing happened, nothing logged

        var logged = cluster.Logs.Entries.Where(e => e.Message.Contains(actor, StringComparison.Ordinal)).Select(e => e.EventId.Name).ToList();
        Assert.Equal(["LogBackendAdded", "LogDrainStarted", "LogBackendRemoved"], logged);
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

    [Fact]
    public async Task NotifyUnpinnedAsync_Again_ListsTheSessionOnceForTenMinutesFromTheLastCall()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Settings);
        await pool.NotifyUnpinnedAsync("alice");
        await pool.NotifyUnpinnedAsync("bob");

        cluster.Time.Advance(TimeSpan.FromMinutes(6));
        await pool.NotifyUnpinnedAsync("alice"); // a retried unpin, or alice unpinned again after she came back
        await pool.ReportAsync(new LoadReport("g1", [], TimeSpan.FromSeconds(5))); // moves the pool on: expiry runs
        Assert.Equal(["alice", "bob"], (await pool.GetSnapshotAsync()).RecentlyUnpinned.Order(StringComparer.Ordinal));

        cluster.Time.Advance(TimeSpan.FromMinutes(5)); // bob's 10 minutes are over, alice's renewed ones are not
        await pool.ReportAsync(new LoadReport("g1", [], TimeSpan.FromSeconds(5)));
        Assert.Equal<string>(["alice"], (await pool.GetSnapshotAsync()).RecentlyUnpinned);
    }

    [Fact]
    public async Task GetEventsAsync_AnAdminDrainThenAnEjection_ListedInOrderWithWhoWhenAndTheSessionsPinned()
    {
        var name = $"pool-{Guid.NewGuid():N}";
        var pool = cluster.Client.GetGrain<IPoolGrain>(name);
        await pool.InitializeAsync(Seed, Settings);
        var start = cluster.Time.GetUtcNow();
        await TrackSessionsAsync(name, "b1", 2);
        await TrackSessionsAsync(name, "b2", 3);
        var actor = $"10.0.0.7 via gateway-{Guid.NewGuid():N}";

        Assert.True((await pool.DrainBackendAsync("b1", TimeSpan.FromMinutes(2), actor)).Succeeded);
        cluster.Time.Advance(TimeSpan.FromSeconds(1));
        await pool.ReportAsync(Outcomes("g1", "b2", 3, 3)); // ejects b2; b1 is draining, so no backend is left: panic

        var page = await EventsAsync(pool, e => e.Count == 3 && e.All(x => x.SessionsPinned is not null || x.Kind == PoolEventKind.PanicEntered));
        Assert.Equal([PoolEventKind.DrainStarted, PoolEventKind.Ejected, PoolEventKind.PanicEntered], page.Events.Select(e => e.Kind));
        Assert.Equal([actor, "passive health", "health"], page.Events.Select(e => e.By));
        Assert.Equal(new string?[] { "b1", "b2", null }, page.Events.Select(e => e.Backend));
        Assert.Equal([start, start.AddSeconds(1), start.AddSeconds(1)], page.Events.Select(e => e.At));
        Assert.Equal(new int?[] { 2, 3, null }, page.Events.Select(e => e.SessionsPinned));
        Assert.Equal(start.AddMinutes(2), page.Events[0].Until);
        Assert.True(page.Events[1] is { Ejections: 1 } && page.Events[1].Until == start.AddSeconds(11));
        Assert.True(page.Events[2] is { Healthy: 0, Backends: 1 });
        Assert.True(page.KeptSince <= start);

        // Past the drain deadline: the drain is finished by the deadline, with the sessions that move; a cursor gets only what is new.
        cluster.Time.Advance(TimeSpan.FromMinutes(2));
        await pool.ReportAsync(Report("g1"));
        var later = await EventsAsync(pool, e => e.Any(x => x is { Kind: PoolEventKind.DrainFinished, SessionsPinned: not null }), after: page.Events[^1].Id);
        Assert.All(later.Events, e => Assert.True(e.Id > page.Events[^1].Id));
        var finished = Assert.Single(later.Events, e => e.Kind == PoolEventKind.DrainFinished);
        Assert.True(finished is { Backend: "b1", By: "drain deadline", SessionsPinned: 2 });
        Assert.Contains(later.Events, e => e is { Kind: PoolEventKind.Readmitted, Backend: "b2", By: "passive health" });
    }

    [Fact]
    public async Task GetEventsAsync_MoreChangesThanItKeeps_KeepsTheLast200InOrder()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed, Settings);

        for (var i = 0; i < 205; i++)
        {
            Assert.True((await pool.UpdateBackendAsync("b1", new BackendPatch(Weight: 3 + (i % 2)), $"caller {i}")).Succeeded);
        }

        var page = await pool.GetEventsAsync();
        Assert.Equal(200, page.Capacity);
        Assert.Equal(200, page.Events.Length);
        Assert.Equal(Enumerable.Range(5, 200).Select(i => $"caller {i}"), page.Events.Select(e => e.By));
        Assert.All(page.Events, e => Assert.Equal(PoolEventKind.BackendChanged, e.Kind));
        Assert.Equal(Enumerable.Range(0, 200).Select(i => page.Events[0].Id + i), page.Events.Select(e => e.Id));
        Assert.Equal("weight 4 → 3", page.Events[^1].Detail); // the 205th change: from the 204th's weight 4 back to 3
    }

    // Pins the session list of a backend knows about, as session grains report them.
    private async Task TrackSessionsAsync(string pool, string backend, int count)
    {
        var list = cluster.Client.GetGrain<IBackendSessionsGrain>(GrainKeys.Backend(pool, backend));
        for (var i = 0; i < count; i++)
        {
            await list.TrackAsync($"{backend}-session-{i}", cluster.Time.GetUtcNow().AddHours(1));
        }

        Assert.Equal(count, (await GrainClusterFixture.EventuallyAsync(() => list.ListAsync(null, 1), p => p.Total == count)).Total);
    }

    // Sessions are counted just after an event, in the background: wait for the counts.
    private static Task<PoolEventPage> EventsAsync(IPoolGrain pool, Func<IReadOnlyList<PoolEventRecord>, bool> until, long? after = null) =>
        GrainClusterFixture.EventuallyAsync(() => pool.GetEventsAsync(after), p => until(p.Events));
}
