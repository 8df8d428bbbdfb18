using System.Collections.Concurrent;
using Distributed.Gateway.Cluster;
using Distributed.Gateway.Configuration;
using Distributed.Gateway.Tests.Fakes;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using static Distributed.Gateway.Tests.Fakes.GatewayHarness;

namespace Distributed.Gateway.Tests.Cluster;

[Trait("Category", "Unit")]
public sealed class ClusterLoadReporterTests : IAsyncLifetime, IDisposable
{
    private const string Other = "other";
    private readonly GatewayHarness _gateway = new(configure: o =>
    {
        // A second pool, so one pool's grain can fail or hang while the other's answers.
        o.Pools[Other] = new PoolOptions { Backends = { ["b1"] = new BackendOptions { Address = "http://127.0.0.1:5001/" } } };
        // Long enough that a pool grain which never answers stays stuck for the whole test.
        o.ClusterCallTimeout = TimeSpan.FromSeconds(30);
    });

    private readonly EventLog<ClusterLoadReporter> _log = new();
    private readonly TimerWatch _time;
    private ClusterLoadReporter? _reporter;

    public ClusterLoadReporterTests() => _time = new TimerWatch(_gateway.Time);

    private FakePoolGrain Grain => _gateway.Grains.Pool(PoolName);

    private FakePoolGrain OtherGrain => _gateway.Grains.Pool(Other);

    public async Task InitializeAsync()
    {
        Grain.Snapshot = Snapshot() with { Unseeded = true }; // a cluster that never saw the pool
        _reporter = new ClusterLoadReporter(
            _gateway.Registry,
            _gateway.Grains.Factory,
            _gateway.Connectivity,
            Microsoft.Extensions.Options.Options.Create(_gateway.Options),
            _time,
            _log);
        await _reporter.StartAsync(CancellationToken.None);
        await _gateway.Warmup.StartAsync(CancellationToken.None); // as the gateway runs it: after each pool's first snapshot
        await EventuallyAsync(() => !Grain.Seeds.IsEmpty && !OtherGrain.Seeds.IsEmpty, "the pools to be seeded");
        await EventuallyAsync(() => _gateway.Registry.All.All(p => p.Hints.Loaded), "the pin hints to be loaded after the first snapshots");
        // A tick of the fake clock before a pool's report timer exists would be lost.
        await EventuallyAsync(() => _time.TimersWithPeriod(_gateway.Options.ReportInterval) == 2, "both pools' report timers");
    }

    public async Task DisposeAsync()
    {
        await _gateway.Warmup.StopAsync(CancellationToken.None);
        await _reporter!.StopAsync(CancellationToken.None);
    }

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
        Assert.NotNull(_gateway.Pool.Place("anyone", requestKey: null, new Random(1)));
        Assert.Single(_log.Ids, 2006);
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

    [Fact]
    public async Task OnePoolGrainNeverAnswers_TheOtherPoolKeepsReportingEveryInterval()
    {
        Grain.Hangs = true;
        var before = OtherGrain.Reports.Count;
        for (var i = 1; i <= 5; i++)
        {
            _gateway.Time.Advance(_gateway.Options.ReportInterval);
            await EventuallyAsync(() => OtherGrain.Reports.Count >= before + i, $"the other pool's report {i} while this pool's grain hangs");
        }

        Assert.True(_gateway.Registry.Find(Other)!.View.FromCluster);
        Grain.Hangs = false; // so that releasing the lease at shutdown answers instead of waiting out the call timeout
    }

    [Fact]
    public async Task Readiness_OnePoolsReportsFail_IsDegradedNamingThatPoolOnlyAndTheEpisodeIsLoggedOnce()
    {
        var check = new ClusterSnapshotHealthCheck(_gateway.Registry, _gateway.Connectivity);
        Grain.Unreachable = true;
        for (var failures = 1; failures <= 4; failures++)
        {
            await TickAsync(failures);
        }

        var result = await check.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.Contains(PoolName, result.Description, StringComparison.Ordinal);
        Assert.DoesNotContain(Other, result.Description, StringComparison.Ordinal);
        Assert.StartsWith("unreachable", (string)result.Data[PoolName], StringComparison.Ordinal);
        Assert.Equal("reachable", result.Data[Other]);

        // The episode is logged once when it starts and once when it ends, not once per failed report.
        Grain.Unreachable = false;
        await TickAsync();
        await EventuallyAsync(() => _log.Ids.Contains(2004), "the recovery to be logged"); // just after the round succeeds
        Assert.Single(_log.Ids, 2003);
        Assert.Single(_log.Ids, 2004);
        Assert.Equal(3, _log.Ids.Count(id => id == 2005)); // the failures in between, at Debug
        Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(new HealthCheckContext())).Status);
    }

    // Advances the fake clock by one report interval and waits for this pool's round to finish: the answer adopted (the
    // view was received at the new time) and the success recorded, or the given count of failed rounds in a row.
    private async Task TickAsync(int failures = 0)
    {
        _gateway.Time.Advance(_gateway.Options.ReportInterval);
        var now = _gateway.Time.GetUtcNow();
        var reports = _gateway.Connectivity.Reports(PoolName);
        await EventuallyAsync(
            () => failures == 0
                ? _gateway.Pool.View.ReceivedAt == now && reports.FailuresInARow == 0
                : reports.FailuresInARow == failures,
            "a report round");
    }

    // The fake clock, counting the timers created on it.
    private sealed class TimerWatch(TimeProvider inner) : TimeProvider
    {
        private readonly ConcurrentQueue<TimeSpan> _periods = new();

        public override long TimestampFrequency => inner.TimestampFrequency;

        public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

        public int TimersWithPeriod(TimeSpan period) => _periods.Count(p => p == period);

        public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

        public override long GetTimestamp() => inner.GetTimestamp();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = inner.CreateTimer(callback, state, dueTime, period);
            _periods.Enqueue(period);
            return timer;
        }
    }
}
