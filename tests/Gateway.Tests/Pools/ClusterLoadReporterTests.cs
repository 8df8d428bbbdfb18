using Distributed.Gateway.Configuration;
using Distributed.Gateway.Pools;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Distributed.Gateway.Tests.Pools;

[Trait("Category", "Unit")]
public sealed class ClusterLoadReporterTests : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));
    private readonly FakePoolGrains _grains = new();
    private readonly PoolRegistry _pools;
    private readonly ClusterConnectivity _connectivity;
    private readonly ClusterLoadReporter _reporter;
    private readonly EventLog _log = new();

    public ClusterLoadReporterTests()
    {
        var options = Options.Create(new BalancerOptions
        {
            ReportInterval = Interval,
            // Long enough that a pool grain which never answers stays stuck for the whole test.
            ClusterCallTimeout = TimeSpan.FromSeconds(30),
            Pools =
            {
                ["alpha"] = new PoolOptions { Backends = { ["b1"] = new BackendOptions { Address = "http://127.0.0.1:5001/" } } },
                ["beta"] = new PoolOptions { Backends = { ["b1"] = new BackendOptions { Address = "http://127.0.0.1:5001/" } } },
            },
        });
        _pools = new PoolRegistry(options, _time, NullLogger<PoolRegistry>.Instance);
        _connectivity = new ClusterConnectivity(_time, options);
        _reporter = new ClusterLoadReporter(_pools, _grains, _connectivity, options, _time, _log);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _reporter.StopAsync(CancellationToken.None);

    public void Dispose()
    {
        _reporter.Dispose();
        _pools.Dispose();
    }

    // Moves the fake clock one report interval at a time until the condition holds (real-time deadline).
    private async Task TickUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for {what}.");
            _time.Advance(Interval);
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task ExecuteAsync_OnePoolGrainNeverAnswers_TheOtherPoolKeepsReportingEveryInterval()
    {
        _grains["alpha"].Answer = FakeAnswer.Never;
        await _reporter.StartAsync(CancellationToken.None);

        await TickUntilAsync(() => _grains["beta"].Reports >= 5, "beta to report five times while alpha's grain hangs");
        Assert.True(_pools.Find("beta")!.View.FromCluster);
    }

    [Fact]
    public async Task Readiness_OnePoolsReportsFail_IsDegradedNamingThatPoolOnly()
    {
        await _reporter.StartAsync(CancellationToken.None);
        await TickUntilAsync(() => _grains["alpha"].Reports >= 1 && _grains["beta"].Reports >= 1, "both pools to report");

        _grains["alpha"].Answer = FakeAnswer.Fail;
        var check = new ClusterSnapshotHealthCheck(_pools, _connectivity);
        HealthCheckResult result = default;
        await TickUntilAsync(
            () => (result = check.CheckHealthAsync(new HealthCheckContext()).GetAwaiter().GetResult()).Status == HealthStatus.Degraded,
            "readiness to turn degraded");

        Assert.Contains("alpha", result.Description, StringComparison.Ordinal);
        Assert.DoesNotContain("beta", result.Description, StringComparison.Ordinal);
        Assert.StartsWith("unreachable", (string)result.Data["alpha"], StringComparison.Ordinal);
        Assert.Equal("reachable", result.Data["beta"]);
        var beta = _grains["beta"].Reports;
        await TickUntilAsync(() => _grains["beta"].Reports >= beta + 3, "beta to go on reporting");

        // The episode is logged once when it starts and once when it ends, not once per failed report.
        _grains["alpha"].Answer = FakeAnswer.Snapshot;
        await TickUntilAsync(() => !_connectivity.Reports("alpha").Unreachable, "alpha to be reachable again");
        await TickUntilAsync(() => _log.Ids.Contains(2004), "the end of the episode to be logged");
        Assert.Single(_log.Ids, 2003);
        Assert.Single(_log.Ids, 2004);
        Assert.Contains(2005, _log.Ids); // the failures in between, at Debug
    }

    private sealed class EventLog : ILogger<ClusterLoadReporter>
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<int> _ids = new();

        public IReadOnlyCollection<int> Ids => _ids;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) => _ids.Enqueue(eventId.Id);
    }
}
