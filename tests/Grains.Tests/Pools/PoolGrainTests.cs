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

    private IPoolGrain NewPool() => cluster.Client.GetGrain<IPoolGrain>($"pool-{Guid.NewGuid():N}");

    private static LoadReport Report(string gateway, params (string Backend, int InFlight)[] load) =>
        new(gateway, [.. load.Select(l => new BackendLoad(l.Backend, l.InFlight))], Lease);

    [Fact]
    public async Task InitializeAsync_FirstSeed_IsTheRegistryOrderedById()
    {
        var snapshot = await NewPool().InitializeAsync(Seed);

        Assert.Equal(1, snapshot.RegistryVersion);
        Assert.Equal(["b1", "b2"], snapshot.Backends.Select(b => b.Id));
        Assert.Equal(2, snapshot.Backends[0].Weight);
        Assert.All(snapshot.Backends, b => Assert.Equal(BackendState.Active, b.State));
    }

    [Fact]
    public async Task InitializeAsync_RegistryExists_KeepsItAgainstAnotherSeed()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed);

        var snapshot = await pool.InitializeAsync([new BackendSpec("b9", "http://127.0.0.1:5009/", 1)]);

        Assert.Equal(1, snapshot.RegistryVersion);
        Assert.Equal(["b1", "b2"], snapshot.Backends.Select(b => b.Id));
    }

    [Fact]
    public async Task ReportAsync_TwoGateways_InFlightIsSummedPerBackend()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed);

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
        await pool.InitializeAsync(Seed);
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
    public async Task ReportAsync_NewReportFromTheSameGateway_ReplacesItsPreviousCounts()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed);
        await pool.ReportAsync(Report("g1", ("b1", 5)));

        var snapshot = await pool.ReportAsync(Report("g1", ("b2", 2)));

        Assert.Equal(0, snapshot.Backends.Single(b => b.Id == "b1").ClusterInFlight);
        Assert.Equal(2, snapshot.Backends.Single(b => b.Id == "b2").ClusterInFlight);
    }

    [Fact]
    public async Task ReportAsync_InvalidReports_AreRejected()
    {
        var pool = NewPool();
        await pool.InitializeAsync(Seed);

        await Assert.ThrowsAsync<ArgumentException>(() => pool.ReportAsync(Report("", ("b1", 1))));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => pool.ReportAsync(Report("g1", ("b1", 1)) with { Lease = TimeSpan.Zero }));
        Assert.Equal(0, (await pool.GetSnapshotAsync()).LiveGateways);
    }
}
