namespace Distributed.Gateway.LoadBalancing;

/// <summary>One backend as the selector sees it.</summary>
/// <param name="Load">Requests in flight (cluster-wide estimate), plus work placed on it since the figures were taken.</param>
/// <param name="Weight">Relative capacity (after slow start); positive.</param>
/// <param name="Usable">Whether the backend may take this request at all.</param>
public readonly record struct BackendCandidate(double Load, double Weight, bool Usable)
{
    /// <summary>
    /// Load per unit of capacity counting the request being placed, <c>(load + 1) / weight</c>; lower is better.
    /// Counting it keeps an idle backend from winning every draw whatever its weight: at a tenth of its weight (slow
    /// start) it scores 10 idle, as much as a full-weight backend with 9 in flight.
    /// </summary>
    public double Score => (Load + 1) / Math.Max(Weight, 1e-6);

    /// <summary>
    /// Whether this candidate is a better choice than <paramref name="other"/>: a lower <see cref="Score"/>, unless
    /// both are idle. Two idle backends say nothing about load, and comparing their weights alone would give the
    /// heavier one every request of a quiet pool; the weighted draw decides between them instead.
    /// </summary>
    public bool IsLessLoadedThan(BackendCandidate other) => (Load > 0 || other.Load > 0) && Score < other.Score;
}

/// <summary>
/// Weighted least-loaded choice with power of two choices: two distinct usable backends are drawn at random, each with
/// a probability proportional to its weight, and the one with the lower load per weight wins (the first drawn on a
/// tie). Many gateways act on slightly stale load figures; drawing two at random instead of always taking the global
/// minimum keeps them from herding onto the same backend during the staleness window, while a heavily loaded backend
/// still loses almost every draw. Idle backends share new work in proportion to their weights (the draw decides), and
/// busy ones too, as every placement counts in the load (see <see cref="BackendCandidate.Score"/>).
/// </summary>
public static class LeastLoadedBackendSelector
{
    /// <summary>Index of the chosen candidate, or -1 when none is usable.</summary>
    public static int Select(ReadOnlySpan<BackendCandidate> candidates, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var total = 0.0;
        var usable = 0;
        foreach (var candidate in candidates)
        {
            if (candidate.Usable)
            {
                total += Math.Max(candidate.Weight, 1e-6);
                usable++;
            }
        }

        if (usable == 0)
        {
            return -1;
        }

        var first = WeightedRandomBackendSelector.Draw(candidates, random, total, exclude: -1);
        if (usable == 1)
        {
            return first;
        }

        var second = WeightedRandomBackendSelector.Draw(candidates, random, total - Math.Max(candidates[first].Weight, 1e-6), exclude: first);
        return candidates[second].IsLessLoadedThan(candidates[first]) ? second : first;
    }
}
