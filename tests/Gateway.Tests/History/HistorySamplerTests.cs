using System.Collections.Concurrent;
using Distributed.Gateway.Cluster;
using Distributed.Gateway.Configuration;
using Distributed.Gateway.History;
using Distributed.Gateway.Pools;
using Distributed.Grains.Abstractions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Distributed.Gateway.Tests.History;

[Trait("Category", "Unit")]
public sealed class HistorySamplerTests : IAsyncDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly FakeSessions _sessions = new();
    private readonly FakeLatency _latency = new();
    private readonly BalancerOptions _options = new()
    {
        Pools =
        {
            ["web"] = new PoolOptions
            {
                SessionKey = "Header:X-Session-Id",
                Backends = { ["b1"] = new BackendOptions { Address = "http://127.0.0.1:5001" }, ["b2"] = new BackendOptions { Address = "http://127.0.0.1:5002" } },
            },
        },
        History = { Retention = TimeSpan.FromMinutes(1), SessionsInterval = TimeSpan.FromSeconds(5) },
    };

    private PoolRegistry? _pools;
    private HistorySampler? _sampler;

    private async Task<(PoolRegistry Pools, HistoryStore Store)> StartAsync()
    {
        var options = Options.Create(_options);
        _pools = new PoolRegistry(options, _time, NullLogger<PoolRegistry>.Instance);
        var store = new HistoryStore(_pools, options);
        _sampler = new HistorySampler(_pools, store, _latency, _sessions, options, _time, NullLogger<HistorySampler>.Instance);
        await _sampler.StartAsync(CancellationToken.None);
        return (_pools, store);
    }

    private void Snapshot(PoolRegistry pools, int inFlight)
    {
        var pool = pools.Find("web")!;
        var snapshot = new PoolSnapshot("web", 1, [new BackendSnapshot("b1", "http://127.0.0.1:5001/", 1, BackendState.Active, inFlight), new BackendSnapshot("b2", "http://127.0.0.1:5002/", 1, BackendState.Active, 0)], 1, _time.GetUtcNow());
        pool.Apply(snapshot, [], _time.GetUtcNow());
    }

    // One second of fake time, then wait until the sampler has made that second's point.
    private static async Task TickAsync(FakeTimeProvider time, PoolHistory history)
    {
        time.Advance(HistorySampler.Interval);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await WaitAsync(() => history.Describe(now - 1).Times.Count == 1, "a point for a second of time");
    }

    private static async Task WaitAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Waited {Deadline} for {what}.");
            await Task.Delay(5);
        }
    }

    [Fact]
    public async Task Sampler_EverySecond_AddsOnePointFromTheSnapshot()
    {
        var (pools, store) = await StartAsync();
        var history = store.Find("web")!;
        for (var second = 1; second <= 3; second++)
        {
            Snapshot(pools, inFlight: second);
            await TickAsync(_time, history);
        }

        var described = history.Describe(null);
        Assert.Equal(3, described.Times.Count);
        Assert.Equal([1000L, 1000L], described.Times.Zip(described.Times.Skip(1), (a, b) => b - a));
        Assert.Equal([1, 2, 3], described.Backends.Single(b => b.Id == "b1").InFlight);
    }

    [Fact]
    public async Task Sampler_PastTheRetention_HoldsRetentionWorthOfPoints()
    {
        var (pools, store) = await StartAsync();
        var history = store.Find("web")!;
        for (var second = 1; second <= 75; second++)
        {
            Snapshot(pools, inFlight: second);
            await TickAsync(_time, history);
        }

        var inFlight = history.Describe(null).Backends.Single(b => b.Id == "b1").InFlight;
        Assert.Equal(60, inFlight.Count);
        Assert.Equal(Enumerable.Range(16, 60).Select(i => (int?)i), inFlight);
    }

    [Fact]
    public async Task Sampler_SessionsEveryInterval_AppearInOnePointEach()
    {
        _sessions.Counts["b1"] = 17;
        var (pools, store) = await StartAsync();
        var history = store.Find("web")!;
        for (var second = 1; second <= 11; second++)
        {
            Snapshot(pools, 0);
            await TickAsync(_time, history);
            if (second % 5 == 0)
            {
                // Counted at 5 s and 10 s, each backend once: wait for it before time moves on.
                await WaitAsync(() => _sessions.Calls == 2 * (second / 5), "the session count");
            }
        }

        Assert.Equal(4, _sessions.Calls);
        var sessions = history.Describe(null).Backends.Single(b => b.Id == "b1").Sessions;
        Assert.Equal(2, sessions.Count(s => s == 17));
        Assert.Equal(9, sessions.Count(s => s is null));
    }

    [Fact]
    public async Task Sampler_SessionCountsHanging_StillAddsAPointEverySecond()
    {
        _sessions.Hang = true;
        var (pools, store) = await StartAsync();
        var history = store.Find("web")!;
        for (var second = 1; second <= 12; second++)
        {
            Snapshot(pools, 0);
            await TickAsync(_time, history);
        }

        Assert.True(_sessions.Calls >= 2);
        Assert.All(history.Describe(null).Backends, b => Assert.All(b.Sessions, Assert.Null));
    }

    [Fact]
    public async Task Sampler_LatencySourceFailing_StillAddsPointsWithoutP99()
    {
        _latency.Fail = true;
        var (pools, store) = await StartAsync();
        var history = store.Find("web")!;
        for (var second = 1; second <= 2; second++)
        {
            Snapshot(pools, 4);
            await TickAsync(_time, history);
        }

        var b1 = history.Describe(null).Backends.Single(b => b.Id == "b1");
        Assert.Equal([4, 4], b1.InFlight);
        Assert.All(b1.LatencyP99Ms, Assert.Null);
    }

    [Fact]
    public async Task Sampler_SnapshotOlderThanTheReportLease_RecordsClusterFiguresAsUnknown()
    {
        var (pools, store) = await StartAsync();
        var history = store.Find("web")!;
        Snapshot(pools, 5);
        await TickAsync(_time, history);
        await TickAsync(_time, history); // 2 s after the snapshot: past the 1 s lease of a 200 ms report interval

        Assert.Equal([5, null], history.Describe(null).Backends.Single(b => b.Id == "b1").InFlight);
    }

    [Fact]
    public async Task Sampler_HistoryDisabled_AddsNothing()
    {
        _options.History.Enabled = false;
        var (_, store) = await StartAsync();
        Assert.False(store.Enabled);
        await _sampler!.ExecuteTask!.WaitAsync(Deadline); // a disabled sampler ends at once
        Assert.Null(store.Find("web")); // nothing is even allocated
    }

    public async ValueTask DisposeAsync()
    {
        if (_sampler is not null)
        {
            await _sampler.StopAsync(CancellationToken.None);
            _sampler.Dispose();
        }
    }

    private sealed class FakeSessions : IBackendSessionCounter
    {
        private int _calls;

        public ConcurrentDictionary<string, int> Counts { get; } = new();

        public bool Hang { get; set; }

        public int Calls => Volatile.Read(ref _calls);

        public async Task<int> CountAsync(string pool, string backendId, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _calls);
            if (Hang)
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }

            return Counts.GetValueOrDefault(backendId);
        }
    }

    private sealed class FakeLatency : IBackendLatencySource
    {
        public bool Fail { get; set; }

        public Task<IReadOnlyDictionary<HttpEndpoint, LatencyHistogram>> ReadAsync(CancellationToken cancellationToken) =>
            Fail ? throw new InvalidOperationException("collection failed") : Task.FromResult<IReadOnlyDictionary<HttpEndpoint, LatencyHistogram>>(new Dictionary<HttpEndpoint, LatencyHistogram>());
    }
}
