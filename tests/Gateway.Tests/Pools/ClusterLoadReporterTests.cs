using Distributed.Gateway.Pools;
using Distributed.Gateway.Tests.Fakes;
using Microsoft.Extensions.Logging.Abstractions;
using static Distributed.Gateway.Tests.Fakes.GatewayHarness;

namespace Distributed.Gateway.Tests.Pools;

[Trait("Category", "Unit")]
public sealed class ClusterLoadReporterTests : IAsyncLifetime, IDisposable
{
    private readonly GatewayHarness _gateway = new();
    private ClusterLoadReporter? _reporter;

    private FakePoolGrain Grain => _gateway.Grains.Pool(PoolName);

    public async Task InitializeAsync()
    {
        Grain.Snapshot = Snapshot() with { Unseeded = true }; // a cluster that never saw the pool
        _reporter = new ClusterLoadReporter(
            _gateway.Registry,
            _gateway.Grains.Factory,
            _gateway.Connectivity,
            Microsoft.Extensions.Options.Options.Create(_gateway.Options),
            _gateway.Telemetry,
            _gateway.Time,
            NullLogger<ClusterLoadReporter>.Instance);
        await _reporter.StartAsync(CancellationToken.None);
        await EventuallyAsync(() => !Grain.Seeds.IsEmpty, "the pool to be seeded");
    }

    public async Task DisposeAsync() => await _reporter!.StopAsync(CancellationToken.None);

    public void Dispose()
    {
        _reporter?.Dispose();
        _gateway.Dispose();
    }

    [Fact]
    public async Task EveryInterval_ReportsThisGatewaysInFlightAndAdoptsTheAnswer()
    {
        Assert.Equal(["b1", "b2", "b3"], Grain.Seeds.Single().Select(b => b.Id));
        _gateway.Pool.View.Find("b2")!.Counter.Begin();
        Grain.Snapshot = Snapshot(Backend("b1"), Backend("b2", inFlight: 7), Backend("b3"));

        await TickAsync();

        var report = Assert.Single(Grain.Reports);
        Assert.Equal(1, report.Backends.Single(b => b.BackendId == "b2").InFlight);
        Assert.Equal(7, _gateway.Pool.View.Find("b2")!.Backend.ClusterInFlight);
    }

    [Fact]
    public async Task RegistryLostByTheStore_IsSeededAgainFromTheLastViewAndRoutingNeverSeesItEmpty()
    {
        // The cluster's registry had a backend added through the admin API; then Redis restarted empty.
        Grain.Snapshot = Snapshot(Backend("b1"), Backend("b2"), Backend("b3"), Backend("b4"));
        await TickAsync();
        Assert.NotNull(_gateway.Pool.View.Find("b4"));

        Grain.LoseRegistry();
        await TickAsync();

        Assert.Equal(2, Grain.Seeds.Count);
        Assert.Equal(["b1", "b2", "b3", "b4"], Grain.Seeds.Last().Select(b => b.Id));
        Assert.Equal(4, _gateway.Pool.View.Backends.Length);
        Assert.False(Grain.Snapshot.Unseeded);
        Assert.NotNull(_gateway.Pool.Place("anyone"));
    }

    [Fact]
    public async Task ReportsFailing_DegradedAfterTwoRoundsAndBackOnTheFirstSuccess()
    {
        Grain.Unreachable = true;
        await TickAsync(failures: 1);
        Assert.False(_gateway.Connectivity.IsDegraded); // one missed round can be a hiccup
        await TickAsync(failures: 2);
        Assert.True(_gateway.Connectivity.IsDegraded);
        Assert.Equal(3, _gateway.Pool.View.Backends.Length); // still routing from the last view

        Grain.Unreachable = false;
        await TickAsync();
        Assert.False(_gateway.Connectivity.IsDegraded);
    }

    // Advances the fake clock by one report interval and waits for the round to finish: the answer adopted (the view
    // was received at the new time) and the success recorded, or the given count of failed rounds in a row.
    private async Task TickAsync(int failures = 0)
    {
        _gateway.Time.Advance(_gateway.Options.ReportInterval);
        var now = _gateway.Time.GetUtcNow();
        await EventuallyAsync(
            () => failures == 0
                ? _gateway.Pool.View.ReceivedAt == now && _gateway.Connectivity.ConsecutiveReportFailures == 0
                : _gateway.Connectivity.ConsecutiveReportFailures == failures,
            "a report round");
    }
}
