namespace Distributed.Gateway.LoadBalancing;

/// <summary>
/// Ordered fallback for active/standby pools (HAProxy <c>backup</c> servers, YARP's <c>FirstAlphabetical</c>): the first
/// usable backend in ordinal order of its id takes everything; the next one takes over when it is unhealthy, drained,
/// or at its in-flight limit. A first backend in slow start takes its ramped share only (effective weight / weight of
/// the new work, at random), the rest going down the list, so a primary that comes back is not flooded at once.
/// </summary>
public static class FirstAvailableBackendSelector
{
    /// <summary>Index of the chosen candidate, or -1 when none is usable.</summary>
    public static int Select(ReadOnlySpan<PlacementCandidate> candidates, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var first = -1;
        var previous = (string?)null;
        for (var round = 0; round < candidates.Length; round++)
        {
            // The next usable id in ordinal order after the previous one: no allocation, pools are small.
            var next = -1;
            for (var i = 0; i < candidates.Length; i++)
            {
                var candidate = candidates[i];
                if (candidate.Usable
                    && (previous is null || string.CompareOrdinal(candidate.Id, previous) > 0)
                    && (next < 0 || string.CompareOrdinal(candidate.Id, candidates[next].Id) < 0))
                {
                    next = i;
                }
            }

            if (next < 0)
            {
                break;
            }

            first = first < 0 ? next : first;
            var ramp = candidates[next].EffectiveWeight / Math.Max(candidates[next].Weight, 1);
            if (ramp >= 1 || random.NextDouble() < ramp)
            {
                return next;
            }

            previous = candidates[next].Id;
        }

        return first; // every usable backend is ramping and none drew its share: the first still serves
    }
}
