using Distributed.Gateway.Cluster;
using Microsoft.Extensions.Time.Testing;

namespace Distributed.Gateway.Tests.Cluster;

[Trait("Category", "Unit")]
public sealed class ClusterConnectivityTests
{
    private readonly ClusterConnectivity _connectivity = new(new FakeTimeProvider());

    [Fact]
    public void IsDegraded_WhileOnePoolsReportsFailTwiceInARow_UntilOneSucceeds()
    {
        Assert.False(_connectivity.IsDegraded);
        _connectivity.ReportSucceeded("a");
        _connectivity.ReportFailed("b");
        Assert.False(_connectivity.IsDegraded); // one missed round can be a hiccup
        _connectivity.ReportFailed("b");
        Assert.True(_connectivity.IsDegraded);
        Assert.Same(_connectivity.Reports("b"), _connectivity.Reports("b"));

        _connectivity.ReportSucceeded("b");
        Assert.False(_connectivity.IsDegraded);
    }

    [Fact]
    public void IsDegraded_PoolsFirstSeenConcurrently_EachCountsOnce()
    {
        var pools = Enumerable.Range(0, 64).Select(i => $"pool-{i}").ToArray();
        Parallel.ForEach(pools, new ParallelOptions { MaxDegreeOfParallelism = 8 }, pool => _connectivity.ReportSucceeded(pool));

        foreach (var pool in pools)
        {
            _connectivity.ReportFailed(pool);
            _connectivity.ReportFailed(pool);
            Assert.True(_connectivity.IsDegraded, $"{pool} is unreachable but the gateway does not say it is degraded");
            _connectivity.ReportSucceeded(pool);
            Assert.False(_connectivity.IsDegraded);
        }
    }
}
