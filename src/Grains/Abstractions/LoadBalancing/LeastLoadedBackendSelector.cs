namespace Distributed.Grains.LoadBalancing;

/// <summary>One backend as the selector sees it.</summary>
/// <param name="Load">Requests in flight (cluster-wide estimate).</param>
/// <param name="Weight">Relative capacity, at least 1.</param>
/// <param name="Usable">Whether the backend may take this request at all.</param>
public readonly record struct BackendCandidate(double Load, int Weight, bool Usable)
{
    /// <summary>Load per unit of capacity; lower is better.</summary>
    public double Score => Load / Math.Max(1, Weight);
}

/// <summary>
/// Weighted least-loaded choice with power of two choices: two distinct usable backends are drawn at random
/// and the one with the lower load per weight wins. Many gateways act on slightly stale load figures; drawing two
/// at random instead of always taking the global minimum keeps them from all herding onto the same backend
/// during the staleness window, while a heavily loaded backend still loses almost every draw.
/// </summary>
public static class LeastLoadedBackendSelector
{
    /// <summary>Index of the chosen candidate, or -1 when none is usable.</summary>
    public static int Select(ReadOnlySpan<BackendCandidate> candidates, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var usable = 0;
        foreach (var candidate in candidates)
        {
            if (candidate.Usable)
            {
                usable++;
            }
        }

        switch (usable)
        {
            case 0:
                return -1;
            case 1:
                return NthUsable(candidates, 0);
        }

        var first = random.Next(usable);
        var second = random.Next(usable - 1);
        if (second >= first)
        {
            second++;
        }

        var a = NthUsable(candidates, first);
        var b = NthUsable(candidates, second);
        return candidates[b].Score < candidates[a].Score ? b : a;
    }

    private static int NthUsable(ReadOnlySpan<BackendCandidate> candidates, int n)
    {
        for (var i = 0; i < candidates.Length; i++)
        {
            if (candidates[i].Usable && n-- == 0)
            {
                return i;
            }
        }

        throw new InvalidOperationException("Usable candidate count changed during selection.");
    }
}
