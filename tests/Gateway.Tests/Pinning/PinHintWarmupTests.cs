using Distributed.Gateway.Cluster;
using Distributed.Gateway.Pinning;
using Distributed.Gateway.SessionKeys;
using Distributed.Gateway.Tests.Fakes;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using static Distributed.Gateway.Tests.Fakes.GatewayHarness;

namespace Distributed.Gateway.Tests.Pinning;

/// <summary>
/// A restarted gateway whose grain calls outlast the wait budget guesses each session's first choice: wrong for the
/// sessions earlier failures or drains moved. The warm-up hints those from the cluster's session lists.
/// </summary>
[Trait("Category", "Unit")]
public sealed class PinHintWarmupTests : IDisposable
{
    private readonly GatewayHarness _gateway = new();

    public void Dispose() => _gateway.Dispose();

    [Fact]
    public async Task WarmAsync_SessionsOffTheirFirstChoice_AreHintedAndOthersAreNot()
    {
        var moved = _gateway.KeyPlacedOn("b1", "moved");
        var home = _gateway.KeyPlacedOn("b2", "home");
        _gateway.Grains.SessionList(PoolName, "b3").Add(moved);
        _gateway.Grains.SessionList(PoolName, "b2").Add(home);

        await _gateway.Warmup.WarmAsync(_gateway.Pool, CancellationToken.None);

        Assert.True(_gateway.Pool.Hints.Loaded);
        Assert.Equal("b3", _gateway.Pool.Hints.Find(moved));
        Assert.Null(_gateway.Pool.Hints.Find(home)); // the guess finds it anyway
        Assert.Equal(1, _gateway.Pool.Hints.Count);
    }

    [Fact]
    public async Task ResolveAsync_ColdGatewayAndASlowGrain_RoutesAHintedSessionToItsRealBackend()
    {
        var moved = _gateway.KeyPlacedOn("b1", "moved");
        _gateway.Grains.SessionList(PoolName, "b3").Add(moved);
        await _gateway.Warmup.WarmAsync(_gateway.Pool, CancellationToken.None);
        var grain = _gateway.Session(moved);
        grain.Pin("b3", epoch: 5, generation: Generation);
        grain.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var pending = _gateway.Resolver.ResolveAsync(_gateway.Pool, SessionKeyResult.Existing(moved));
        _gateway.Time.Advance(_gateway.Options.ClusterWaitBudget);
        var decision = await pending;

        Assert.Equal((RoutingOutcome.Provisional, "b3"), (decision.Outcome, decision.Backend!.Id));
        Assert.Equal([$"get_or_pin b3@{Generation}"], grain.Calls); // and the hint is what the grain is asked to confirm
        grain.Hold.SetResult();
    }

    [Fact]
    public async Task WarmAsync_ListThatNeverAnswers_GivesUpAtTheLimitKeepingWhatItHasAndReadinessFollows()
    {
        var moved = _gateway.KeyPlacedOn("b1", "moved");
        _gateway.Grains.SessionList(PoolName, "b1").Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _gateway.Grains.SessionList(PoolName, "b2").Add(moved); // listed after b1: never reached
        var readiness = new ClusterSnapshotHealthCheck(_gateway.Registry, _gateway.Connectivity);

        var warming = _gateway.Warmup.WarmAsync(_gateway.Pool, CancellationToken.None);
        Assert.Equal(HealthStatus.Unhealthy, (await readiness.CheckHealthAsync(new HealthCheckContext())).Status);
        Assert.Equal("loading pin hints", (await readiness.CheckHealthAsync(new HealthCheckContext())).Data[PoolName]);
        while (!warming.IsCompleted)
        {
            _gateway.Time.Advance(TimeSpan.FromMilliseconds(500));
            await Task.WhenAny(warming, Task.Delay(10));
        }

        await warming;
        Assert.True(_gateway.Pool.Hints.Loaded);
        Assert.Equal(0, _gateway.Pool.Hints.Count);
        Assert.Equal(HealthStatus.Healthy, (await readiness.CheckHealthAsync(new HealthCheckContext())).Status);
    }

    [Fact]
    public async Task WarmAsync_MoreMovedSessionsThanTheCacheHolds_StopsAtItsCapacity()
    {
        using var small = new GatewayHarness(configure: o => o.PinCache.MaxEntries = 3);
        var moved = Enumerable.Range(0, 1_000).Select(i => $"k-{i}").Where(k => small.Placed(k) != "b3").Take(10).ToArray();
        small.Grains.SessionList(PoolName, "b3").Add(moved);

        await small.Warmup.WarmAsync(small.Pool, CancellationToken.None);

        Assert.Equal(3, small.Pool.Hints.Count);
        Assert.True(small.Pool.Hints.Loaded);
    }
}
