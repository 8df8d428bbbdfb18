using System.Collections.Immutable;
using Distributed.Grains.Abstractions;

namespace Distributed.Grains.Tests.Pools;

/// <summary>The pool grain on a store that refuses or stops answering writes (<see cref="Storage.ControlledGrainStorage"/>).</summary>
[Trait("Category", "Grains")]
public sealed class PoolGrainStorageTests(GrainClusterFixture cluster) : IClassFixture<GrainClusterFixture>
{
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan Answer = TimeSpan.FromSeconds(10);
    private static readonly ImmutableArray<BackendSpec> Seed =
    [
        new("b1", "http://127.0.0.1:5001/", 1),
        new("b2", "http://127.0.0.1:5002/", 1),
    ];

    private static readonly PoolSettings Settings = PoolSettings.Default with
    {
        Active = ActiveHealthSettings.Default with { Path = "" },
        Passive = PassiveHealthSettings.Default with { ConsecutiveFailures = 3, EjectionTime = TimeSpan.FromSeconds(30), MaxEjectionTime = TimeSpan.FromSeconds(30) },
    };

    private (string Key, IPoolGrain Grain) NewPool()
    {
        var key = $"pool-{Guid.NewGuid():N}";
        return (key, cluster.Client.GetGrain<IPoolGrain>(key));
    }

    private static LoadReport Report(string gateway, string backend, int inFlight, long completed = 0, long failed = 0) =>
        new(gateway, [new BackendLoad(backend, inFlight, completed, failed)], Lease);

    [Fact]
    public async Task ReportAsync_WhileTheStoreHangs_AnswersFromMemoryAndPersistsOnceItAnswers()
    {
        var (key, pool) = NewPool();
        var seeded = await pool.InitializeAsync(Seed, Settings);
        cluster.PoolStorage.HangWrites(key);
        try
        {
            // The ejection changes b2's pin generation, which must be stored; the reports must not wait for that.
            var ejecting = pool.ReportAsync(Report("g1", "b2", 0, completed: 3, failed: 3));
            Assert.Same(ejecting, await Task.WhenAny(ejecting, Task.Delay(Answer)));
            Assert.Equal(BackendHealth.Ejected, (await ejecting).Backends.Single(b => b.Id == "b2").Health);

            for (var i = 1; i <= 5; i++)
            {
                var report = pool.ReportAsync(Report($"g{i}", "b1", i));
                Assert.Same(report, await Task.WhenAny(report, Task.Delay(Answer)));
                Assert.Equal(i * (i + 1) / 2, (await report).Backends.Single(b => b.Id == "b1").ClusterInFlight);
            }
        }
        finally
        {
            cluster.PoolStorage.Heal(key);
        }

        var stored = await GrainClusterFixture.EventuallyAsync(pool.GetSnapshotAsync, s => !s.Backends.Single(b => b.Id == "b2").KeepsSessions);
        var b2 = stored.Backends.Single(b => b.Id == "b2");
        Assert.False(b2.KeepsSessions);
        Assert.True(b2.PinGeneration > seeded.Backends.Single(b => b.Id == "b2").PinGeneration);
        var record = cluster.PoolStorage.Stored<Distributed.Grains.Pools.PoolState>("pool", key)!.Backends.Single(b => b.Id == "b2");
        Assert.Equal((false, b2.PinGeneration), (record.KeepsSessions, record.PinGeneration));
    }

    [Fact]
    public async Task AddBackendAsync_TheWriteFails_IsNotStoredAndChangesNothingUntilAWriteSucceeds()
    {
        var (key, pool) = NewPool();
        var seeded = await pool.InitializeAsync(Seed, Settings);
        cluster.PoolStorage.FailWrites(key);
        try
        {
            var refused = await pool.AddBackendAsync(new BackendSpec("b3", "http://127.0.0.1:5003/", 1), "test");
            Assert.Equal(AdminOutcome.NotStored, refused.Outcome);
            Assert.Contains("nothing changed", refused.Detail, StringComparison.Ordinal);
            var after = await pool.GetSnapshotAsync();
            Assert.Equal(["b1", "b2"], after.Backends.Select(b => b.Id));
            Assert.Equal(seeded.RegistryVersion, after.RegistryVersion);

            Assert.Equal(AdminOutcome.NotStored, (await pool.DrainBackendAsync("b1", null, "test")).Outcome);
            Assert.Equal(BackendState.Active, (await pool.GetSnapshotAsync()).Backends.Single(b => b.Id == "b1").State);
        }
        finally
        {
            cluster.PoolStorage.Heal(key);
        }

        var added = await pool.AddBackendAsync(new BackendSpec("b3", "http://127.0.0.1:5003/", 1), "test");
        Assert.Equal(AdminOutcome.Created, added.Outcome);
        Assert.Equal(["b1", "b2", "b3"], added.Snapshot.Backends.Select(b => b.Id));
        Assert.Equal(seeded.RegistryVersion + 1, added.Snapshot.RegistryVersion);
    }

    [Fact]
    public async Task KeepsSessionsChange_WhileTheStoreRefuses_IsRetriedWithBackoffLoggedOnceAndShownOnceStored()
    {
        var (key, pool) = NewPool();
        var seeded = await pool.InitializeAsync(Seed, Settings);
        cluster.PoolStorage.FailWrites(key);
        var writes = cluster.PoolStorage.WritesOf(key);
        try
        {
            var ejected = await pool.ReportAsync(Report("g1", "b2", 0, completed: 3, failed: 3));
            Assert.Equal(BackendHealth.Ejected, ejected.Backends.Single(b => b.Id == "b2").Health);
            await GrainClusterFixture.EventuallyAsync(() => Task.FromResult(cluster.PoolStorage.WritesOf(key)), n => n >= writes + 3);

            // Not stored, so not shown: a generation a crash could take back never reaches a gateway.
            var meanwhile = (await pool.GetSnapshotAsync()).Backends.Single(b => b.Id == "b2");
            Assert.True(meanwhile.KeepsSessions);
            Assert.Equal(seeded.Backends.Single(b => b.Id == "b2").PinGeneration, meanwhile.PinGeneration);
        }
        finally
        {
            cluster.PoolStorage.Heal(key);
        }

        var stored = await GrainClusterFixture.EventuallyAsync(pool.GetSnapshotAsync, s => !s.Backends.Single(b => b.Id == "b2").KeepsSessions);
        Assert.False(stored.Backends.Single(b => b.Id == "b2").KeepsSessions);
        var logged = cluster.Logs.Entries.Where(e => e.Message.Contains(key, StringComparison.Ordinal)).Select(e => e.EventId.Name).ToList();
        Assert.Single(logged, "LogStoreFailing");
        Assert.Single(logged, "LogStoreRecovered");
    }
}
