using Distributed.Gateway.Configuration;
using Distributed.Gateway.Pools;
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
        _reporter = new ClusterLoadReporter(_pools, _grains, _connectivity, options, _time, NullLogger<ClusterLoadReporter>.Instance);
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
}
