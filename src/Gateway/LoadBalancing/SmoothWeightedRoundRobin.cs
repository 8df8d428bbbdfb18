namespace Distributed.Gateway.LoadBalancing;

/// <summary>
/// Smooth weighted round robin as nginx does it: on every pick each usable backend's current weight grows by its
/// weight, the backend with the highest current weight wins and gives back the sum of the weights. Over any run of
/// picks as long as the sum of the weights each backend gets exactly its share, and the heavy ones are interleaved
/// with the light ones instead of served in bursts (weights 5:1:1 give a a b a c a a, never five in a row).
/// </summary>
/// <remarks>
/// One instance per pool and gateway; thread-safe. The state is keyed by backend id, so backends that come and go or
/// become unusable for a while keep their place in the rotation. Weights may be fractional (slow start).
/// </remarks>
public sealed class SmoothWeightedRoundRobin
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, double> _current = new(StringComparer.Ordinal);

    /// <summary>Index of the next candidate in the rotation, or -1 when none is usable.</summary>
    /// <param name="candidates">The backends; <see cref="PlacementCandidate.EffectiveWeight"/> is the weight, load is not looked at.</param>
    public int Next(ReadOnlySpan<PlacementCandidate> candidates)
    {
        lock (_lock)
        {
            if (_current.Count > 2 * candidates.Length + 16)
            {
                Forget(candidates);
            }

            var best = -1;
            var bestCurrent = double.NegativeInfinity;
            var total = 0.0;
            for (var i = 0; i < candidates.Length; i++)
            {
                var candidate = candidates[i];
                if (!candidate.Usable)
                {
                    continue;
                }

                var weight = Math.Max(candidate.EffectiveWeight, 1e-6);
                total += weight;
                var current = _current.GetValueOrDefault(candidate.Id) + weight;
                _current[candidate.Id] = current;
                if (current > bestCurrent)
                {
                    (best, bestCurrent) = (i, current);
                }
            }

            if (best >= 0)
            {
                _current[candidates[best].Id] = bestCurrent - total;
            }

            return best;
        }
    }

    // Backends removed from the pool: their state goes, so the dictionary grows with the pool, not with its history.
    private void Forget(ReadOnlySpan<PlacementCandidate> candidates)
    {
        var keep = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var candidate in candidates)
        {
            if (_current.TryGetValue(candidate.Id, out var current))
            {
                keep[candidate.Id] = current;
            }
        }

        _current.Clear();
        foreach (var (id, current) in keep)
        {
            _current[id] = current;
        }
    }
}
