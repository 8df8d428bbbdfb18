using Distributed.Gateway.History;

namespace Distributed.Gateway.Tests.History;

[Trait("Category", "Unit")]
public sealed class LatencyHistogramTests
{
    private static readonly double[] Bounds = [0.005, 0.01, 0.025, 0.05, double.PositiveInfinity];

    [Fact]
    public void Quantile_RankInsideABucket_InterpolatesLikeHistogramQuantile()
    {
        // 100 observations: 50 ≤ 5 ms, 40 in (5, 10], 10 in (10, 25]. Rank 99 is the 9th of the 10 in (10, 25].
        var histogram = new LatencyHistogram(Bounds, [50, 90, 100, 100, 100]);
        Assert.Equal(0.01 + (0.015 * 9 / 10), histogram.Quantile(0.99)!.Value, 9);
        Assert.Equal(0.005, histogram.Quantile(0.5)!.Value, 9);
    }

    [Fact]
    public void Quantile_RankInTheFirstBucket_InterpolatesFromZero() =>
        Assert.Equal(0.005 * 0.99, new LatencyHistogram(Bounds, [100, 100, 100, 100, 100]).Quantile(0.99)!.Value, 9);

    [Fact]
    public void Quantile_RankInTheInfBucket_IsTheHighestFiniteBound() =>
        Assert.Equal(0.05, new LatencyHistogram(Bounds, [10, 10, 10, 10, 100]).Quantile(0.99));

    [Fact]
    public void Quantile_NoObservations_IsNull() =>
        Assert.Null(new LatencyHistogram(Bounds, [0, 0, 0, 0, 0]).Quantile(0.99));

    [Fact]
    public void Since_LaterSample_IsTheObservationsInBetween()
    {
        var earlier = new LatencyHistogram(Bounds, [5, 6, 7, 8, 9]);
        var later = new LatencyHistogram(Bounds, [5, 10, 20, 20, 21]);
        Assert.Equal(new long[] { 0, 4, 13, 12, 12 }, later.Since(earlier)!.Counts);
    }

    [Fact]
    public void Since_CountsWentDownOrBoundsDiffer_IsNull()
    {
        var histogram = new LatencyHistogram(Bounds, [5, 6, 7, 8, 9]);
        Assert.Null(new LatencyHistogram(Bounds, [1, 1, 1, 1, 1]).Since(histogram));
        Assert.Null(new LatencyHistogram([0.1, double.PositiveInfinity], [9, 9]).Since(histogram));
    }

    [Fact]
    public void Sum_SeriesOfOneEndpoint_AddUp()
    {
        var sum = LatencyHistogram.Sum([new LatencyHistogram(Bounds, [1, 2, 3, 4, 5]), new LatencyHistogram(Bounds, [10, 10, 10, 10, 10])]);
        Assert.Equal(new long[] { 11, 12, 13, 14, 15 }, sum!.Counts);
        Assert.Null(LatencyHistogram.Sum([]));
    }

    [Fact]
    public void Constructor_WithoutAnInfBound_Throws() =>
        Assert.Throws<ArgumentException>(() => new LatencyHistogram([0.1, 1], [1, 2]));
}
