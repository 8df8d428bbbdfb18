namespace Distributed.Gateway.LoadBalancing;

/// <summary>
/// Weighted random choice: each usable backend is drawn with a probability proportional to its weight (after slow
/// start). Load is not looked at; the policy for pools whose requests cost about the same.
/// </summary>
public static class WeightedRandomBackendSelector
{
    /// <summary>Index of the chosen candidate, or -1 when none is usable.</summary>
    public static int Select(ReadOnlySpan<BackendCandidate> candidates, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var total = 0.0;
        foreach (var candidate in candidates)
        {
            if (candidate.Usable)
            {
                total += Math.Max(candidate.Weight, 1e-6);
            }
        }

        return total > 0 ? Draw(candidates, random, total, exclude: -1) : -1;
    }

    /// <summary>One weighted draw among the usable candidates but <paramref name="exclude"/>, whose weights sum to <paramref name="total"/>.</summary>
    internal static int Draw(ReadOnlySpan<BackendCandidate> candidates, Random random, double total, int exclude)
    {
        var target = random.NextDouble() * total;
        var last = -1;
        for (var i = 0; i < candidates.Length; i++)
        {
            if (!candidates[i].Usable || i == exclude)
            {
                continue;
            }

            last = i;
            target -= Math.Max(candidates[i].Weight, 1e-6);
            if (target < 0)
            {
                return i;
            }
        }

        return last; // rounding left a sliver of the total: the last usable candidate
    }
}
