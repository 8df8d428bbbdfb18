namespace Distributed.Gateway.History;

/// <summary>
/// One latency histogram as Prometheus exposes it: cumulative counts per upper bound (<c>le</c>, in seconds), the last
/// bound +Inf. Plain data, so differences and quantiles are unit-tested without a running gateway.
/// </summary>
internal sealed class LatencyHistogram
{
    public LatencyHistogram(double[] upperBounds, long[] cumulativeCounts)
    {
        ArgumentNullException.ThrowIfNull(upperBounds);
        ArgumentNullException.ThrowIfNull(cumulativeCounts);
        if (upperBounds.Length == 0 || upperBounds.Length != cumulativeCounts.Length || !double.IsPositiveInfinity(upperBounds[^1]))
        {
            throw new ArgumentException("A histogram needs one cumulative count per bound, the last bound +Inf.", nameof(upperBounds));
        }

        UpperBounds = upperBounds;
        Counts = cumulativeCounts;
    }

    /// <summary>Bucket upper bounds in seconds, ascending, ending with +Inf.</summary>
    public double[] UpperBounds { get; }

    /// <summary>Observations at or below each bound.</summary>
    public long[] Counts { get; }

    /// <summary>Every observation.</summary>
    public long Total => Counts[^1];

    /// <summary>
    /// The observations made since <paramref name="earlier"/> (a sample of the same running histogram); <c>null</c>
    /// when the two do not fit (other bounds, or counts that went down: the histogram restarted).
    /// </summary>
    public LatencyHistogram? Since(LatencyHistogram earlier)
    {
        ArgumentNullException.ThrowIfNull(earlier);
        if (!UpperBounds.AsSpan().SequenceEqual(earlier.UpperBounds))
        {
            return null;
        }

        var counts = new long[Counts.Length];
        for (var i = 0; i < counts.Length; i++)
        {
            counts[i] = Counts[i] - earlier.Counts[i];
            if (counts[i] < 0)
            {
                return null;
            }
        }

        return new LatencyHistogram(UpperBounds, counts);
    }

    /// <summary>
    /// The <paramref name="quantile"/> (0–1) in seconds, estimated the way Prometheus' <c>histogram_quantile</c> does:
    /// linear interpolation inside the bucket that holds the rank (from 0 for the first bucket); the highest finite
    /// bound when the rank falls in the +Inf bucket. <c>null</c> without observations.
    /// </summary>
    public double? Quantile(double quantile)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(quantile, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quantile, 1);
        if (Total <= 0)
        {
            return null;
        }

        var rank = quantile * Total;
        for (var i = 0; i < Counts.Length; i++)
        {
            if (Counts[i] < rank)
            {
                continue;
            }

            if (double.IsPositiveInfinity(UpperBounds[i]))
            {
                return i == 0 ? null : UpperBounds[i - 1];
            }

            var lower = i == 0 ? 0 : UpperBounds[i - 1];
            var below = i == 0 ? 0 : Counts[i - 1];
            var inBucket = Counts[i] - below;
            return inBucket == 0 ? UpperBounds[i] : lower + ((UpperBounds[i] - lower) * (rank - below) / inBucket);
        }

        return null;
    }

    /// <summary>The sum of histograms with the same bounds (series that differ only in labels the caller ignores).</summary>
    public static LatencyHistogram? Sum(IReadOnlyCollection<LatencyHistogram> histograms)
    {
        ArgumentNullException.ThrowIfNull(histograms);
        var first = histograms.FirstOrDefault();
        if (first is null)
        {
            return null;
        }

        var counts = new long[first.Counts.Length];
        foreach (var histogram in histograms)
        {
            if (!histogram.UpperBounds.AsSpan().SequenceEqual(first.UpperBounds))
            {
                return null;
            }

            for (var i = 0; i < counts.Length; i++)
            {
                counts[i] += histogram.Counts[i];
            }
        }

        return new LatencyHistogram(first.UpperBounds, counts);
    }
}
