using Distributed.Gateway.Cluster;
using Microsoft.Extensions.Logging.Abstractions;
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

    [Fact]
    public void NoSiloConnected_FollowsWhatTheOrleansClientReports_AndIsFalseUntilItReportsAnything()
    {
        var observer = new SiloConnectionObserver(_connectivity, NullLogger<SiloConnectionObserver>.Instance);
        Assert.False(_connectivity.NoSiloConnected); // not known yet: requests keep asking within their budget

        observer.NotifyGatewayCountChanged(3, 0, connectionRecovered: false);
        observer.NotifyGatewayCountChanged(1, 3, connectionRecovered: false);
        Assert.False(_connectivity.NoSiloConnected);
        observer.NotifyGatewayCountChanged(0, 1, connectionRecovered: false);
        Assert.True(_connectivity.NoSiloConnected);
        Assert.False(_connectivity.IsDegraded); // the pools' reports have not failed yet: a different fact

        observer.NotifyGatewayCountChanged(1, 0, connectionRecovered: true);
        Assert.False(_connectivity.NoSiloConnected);
        observer.NotifyClusterConnectionLost();
        Assert.True(_connectivity.NoSiloConnected);
    }
}
