using Distributed.Grains.Abstractions;

namespace Distributed.Grains.Tests.Health;

[Trait("Category", "Grains")]
public sealed class BackendProbeGrainTests(GrainClusterFixture cluster) : IClassFixture<GrainClusterFixture>
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    private static PoolSettings Probing(int fall) => PoolSettings.Default with
    {
        Active = new ActiveHealthSettings("/healthz", Interval, TimeSpan.FromMilliseconds(150), Rise: 2, Fall: fall),
    };

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for {what}.");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task FreshProber_BeforeItsOwnVerdict_NeverOverridesThePoolsVerdict()
    {
        await using var target = new ProbeTarget { Status = 500 };
        var poolName = $"pool-{Guid.NewGuid():N}";
        var pool = cluster.Client.GetGrain<IPoolGrain>(poolName);
        await pool.InitializeAsync([new BackendSpec("b1", target.Address, 1), new BackendSpec("b2", "http://127.0.0.1:9/", 1)], Probing(fall: 3));
        await GrainClusterFixture.EventuallyAsync(pool.GetSnapshotAsync, s => s.Backends.Single(b => b.Id == "b1").Health == BackendHealth.Unhealthy);

        // The prober is lost (as with its silo) and the pool starts a fresh one within its refresh period. Until the
        // fresh one has failed Fall times itself it knows nothing, and the pool's verdict must stand meanwhile.
        await cluster.Client.GetGrain<IBackendProbeGrain>(GrainKeys.Backend(poolName, "b1")).StopAsync();
        var stoppedAt = target.Requests;
        var seen = new List<BackendHealth>();
        while (target.Requests < stoppedAt + 4)
        {
            seen.Add((await pool.GetSnapshotAsync()).Backends.Single(b => b.Id == "b1").Health);
            Assert.True(seen.Count < 1500, "The pool never restarted the prober.");
            await Task.Delay(20);
        }

        Assert.All(seen, health => Assert.Equal(BackendHealth.Unhealthy, health));
    }

    [Fact]
    public async Task ReportProbeAsync_WhileProbingIsDisabled_IsIgnored()
    {
        var pool = cluster.Client.GetGrain<IPoolGrain>($"pool-{Guid.NewGuid():N}");
        var off = PoolSettings.Default with { Active = ActiveHealthSettings.Default with { Path = "" } };
        await pool.InitializeAsync([new BackendSpec("b1", "http://127.0.0.1:5001/", 1), new BackendSpec("b2", "http://127.0.0.1:5002/", 1)], off);

        // A verdict from a prober that outlived the setting (it has not heard of it yet) changes nothing. The report is
        // one-way; the two-way call after it is queued behind it.
        await pool.ReportProbeAsync("b1", "http://127.0.0.1:5001/", healthy: false);
        await pool.ReportAsync(new LoadReport("g1", [], TimeSpan.FromMinutes(1)));
        await pool.ReportAsync(new LoadReport("g1", [], TimeSpan.FromMinutes(1)));

        var snapshot = await pool.GetSnapshotAsync();
        Assert.Equal(BackendHealth.Healthy, snapshot.Backends.Single(b => b.Id == "b1").Health);
        Assert.True(snapshot.Backends.Single(b => b.Id == "b1").AcceptsNewSessions);
    }

    [Fact]
    public async Task EnsureProbingAsync_NoLongerRenewed_StopsWhenTheLeaseRunsOut()
    {
        // As after the pool grain moved and forgot a backend removed meanwhile: nobody renews the prober any more.
        await using var target = new ProbeTarget();
        var prober = cluster.Client.GetGrain<IBackendProbeGrain>(GrainKeys.Backend($"pool-{Guid.NewGuid():N}", "b1"));
        var lease = TimeSpan.FromSeconds(1);
        await prober.EnsureProbingAsync(target.Address, Probing(fall: 3).Active, lease);

        // Probing has stopped once no probe arrived for five intervals; before the lease existed it never did.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        var (count, since) = (target.Requests, DateTime.UtcNow);
        while (DateTime.UtcNow - since < Interval * 5)
        {
            Assert.True(DateTime.UtcNow < deadline, $"The prober still probes ({target.Requests} probes) long after its lease of {lease} ran out.");
            await Task.Delay(20);
            if (target.Requests != count)
            {
                (count, since) = (target.Requests, DateTime.UtcNow);
            }
        }

        Assert.InRange(count, 1, (int)(lease / Interval) + 2);
    }
}
