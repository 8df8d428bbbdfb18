using Distributed.Gateway.History;
using Distributed.Gateway.Pools;
using Distributed.Grains.Abstractions;

namespace Distributed.Gateway.Tests.History;

[Trait("Category", "Unit")]
public sealed class PoolHistoryTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly double[] Bounds = [0.005, 0.01, 0.1, double.PositiveInfinity];
    private static readonly IReadOnlyDictionary<HttpEndpoint, LatencyHistogram> NoLatency = new Dictionary<HttpEndpoint, LatencyHistogram>();
    private readonly Dictionary<string, BackendCounter> _counters = [];

    private PoolView View(params BackendSnapshot[] backends) => new(
        new PoolSnapshot("web", 1, [.. backends], 1, Start),
        Start,
        fromCluster: true,
        id => _counters.TryGetValue(id, out var counter) ? counter : _counters[id] = new BackendCounter());

    private static BackendSnapshot Backend(string id, int port, double rate = 0, int inFlight = 0) =>
        new(id, $"http://127.0.0.1:{port}/", 1, BackendState.Active, inFlight, RequestRate: rate);

    private void Requests(string backend, int succeeded, int failed)
    {
        var counter = _counters[backend];
        for (var i = 0; i < succeeded + failed; i++)
        {
            counter.Begin();
            counter.End(failed: i < failed);
        }
    }

    private static DateTimeOffset At(int second) => Start.AddSeconds(second);

    [Fact]
    public void Record_MoreThanTheCapacity_KeepsTheNewestPointsOnly()
    {
        var history = new PoolHistory("web", capacity: 60, TimeSpan.FromSeconds(5));
        var view = View(Backend("b1", 5001));
        for (var second = 0; second < 200; second++)
        {
            history.Record(At(second), view, clusterCurrent: true, NoLatency);
        }

        var described = history.Describe(since: null);
        Assert.Equal(60, history.Count);
        Assert.Equal(Enumerable.Range(140, 60).Select(s => At(s).ToUnixTimeMilliseconds()), described.Times);
        Assert.Equal(60, Assert.Single(described.Backends).InFlight.Count);
    }

    [Fact]
    public void Record_ClusterFigures_ComeFromTheSnapshotUnlessItIsNotCurrent()
    {
        var history = new PoolHistory("web", 10, TimeSpan.FromSeconds(5));
        history.Record(At(0), View(Backend("b1", 5001, rate: 12.345, inFlight: 7)), clusterCurrent: true, NoLatency);
        history.Record(At(1), View(Backend("b1", 5001, rate: 99, inFlight: 99)), clusterCurrent: false, NoLatency);

        var b1 = Assert.Single(history.Describe(null).Backends);
        Assert.Equal([12.35, null], b1.RequestRate);
        Assert.Equal([7, null], b1.InFlight);
    }

    [Fact]
    public void Record_ErrorRate_IsThisGatewaysFailedShareOverTheWindow()
    {
        var history = new PoolHistory("web", 100, TimeSpan.FromSeconds(5));
        var view = View(Backend("b1", 5001));
        history.Record(At(0), view, true, NoLatency);
        Requests("b1", succeeded: 9, failed: 1);
        history.Record(At(1), view, true, NoLatency);
        Requests("b1", succeeded: 0, failed: 10);
        history.Record(At(2), view, true, NoLatency);
        // Ten seconds later the first second's requests are out of the window; no requests at all: unknown.
        history.Record(At(11), view, true, NoLatency);
        history.Record(At(12), view, true, NoLatency);

        var errors = Assert.Single(history.Describe(null).Backends).ErrorRate;
        Assert.Equal([null, 0.1, 0.55, 1.0, null], errors);
    }

    [Fact]
    public void Record_P99_IsFromTheBackendsHistogramOverTheWindow()
    {
        var history = new PoolHistory("web", 100, TimeSpan.FromSeconds(5));
        var view = View(Backend("b1", 5001), Backend("b2", 5002));
        Dictionary<HttpEndpoint, LatencyHistogram> Latency(long[] b1) => new() { [new HttpEndpoint("127.0.0.1", 5001)] = new LatencyHistogram(Bounds, b1) };

        // Before: 1,000 fast requests. Then 100 requests in (10 ms, 100 ms]: only those are in the next window.
        history.Record(At(0), view, true, Latency([1000, 1000, 1000, 1000]));
        history.Record(At(1), view, true, Latency([1000, 1000, 1100, 1100]));
        history.Record(At(2), view, true, Latency([1000, 1000, 1100, 1100]));
        history.Record(At(12), view, true, Latency([1000, 1000, 1100, 1100]));

        var backends = history.Describe(null).Backends;
        Assert.Equal([null, 99.1, 99.1, null], backends[0].LatencyP99Ms);
        Assert.All(backends[1].LatencyP99Ms, Assert.Null); // no histogram for b2's address: no requests to it
    }

    [Fact]
    public void RecordSessions_AreInTheNextPointOnly()
    {
        var history = new PoolHistory("web", 10, TimeSpan.FromSeconds(5));
        var view = View(Backend("b1", 5001), Backend("b2", 5002));
        history.Record(At(0), view, true, NoLatency);
        history.RecordSessions(new Dictionary<string, int> { ["b1"] = 40 });
        history.Record(At(1), view, true, NoLatency);
        history.Record(At(2), view, true, NoLatency);

        var backends = history.Describe(null).Backends;
        Assert.Equal([null, 40, null], backends[0].Sessions);
        Assert.Equal([null, null, null], backends[1].Sessions);
        Assert.Equal(5, history.Describe(null).SessionsIntervalSeconds);
    }

    [Fact]
    public void Describe_BackendsComingAndGoing_HaveColumnsAlignedWithTheTimes()
    {
        var history = new PoolHistory("web", 10, TimeSpan.FromSeconds(5));
        history.Record(At(0), View(Backend("b2", 5002, inFlight: 1)), true, NoLatency);
        history.Record(At(1), View(Backend("b1", 5001, inFlight: 2), Backend("b2", 5002, inFlight: 3)), true, NoLatency);
        history.Record(At(2), View(Backend("b1", 5001, inFlight: 4)), true, NoLatency);

        var described = history.Describe(null);
        Assert.Equal(["b1", "b2"], described.Backends.Select(b => b.Id));
        Assert.Equal([null, 2, 4], described.Backends[0].InFlight);
        Assert.Equal([1, 3, null], described.Backends[1].InFlight);
    }

    [Fact]
    public void Describe_Since_ReturnsOnlyLaterPoints()
    {
        var history = new PoolHistory("web", 10, TimeSpan.FromSeconds(5));
        var view = View(Backend("b1", 5001));
        for (var second = 0; second < 5; second++)
        {
            history.Record(At(second), view, true, NoLatency);
        }

        var described = history.Describe(At(2).ToUnixTimeMilliseconds());
        Assert.Equal([At(3).ToUnixTimeMilliseconds(), At(4).ToUnixTimeMilliseconds()], described.Times);
        Assert.Equal(2, described.Backends[0].RequestRate.Count);
        Assert.Empty(history.Describe(At(4).ToUnixTimeMilliseconds()).Times);
    }
}
