namespace Distributed.Grains.LoadBalancing;

/// <summary>
/// Weighted rendezvous (highest random weight) hashing with a fixed hash function (FNV-1a, 64 bit), so every process
/// ranks the backends for a key identically, and removing one backend moves only the keys that were on it.
/// </summary>
public static class RendezvousHash
{
    private const ulong OffsetBasis = 14695981039346656037;
    private const ulong Prime = 1099511628211;

    /// <summary>The score of <paramref name="backendId"/> for <paramref name="key"/>; the highest score wins.</summary>
    public static double Score(string key, string backendId, int weight)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(backendId);
        var hash = Mix(Mix(OffsetBasis, key), backendId);
        // Uniform in (0, 1) from the top 53 bits; -w / ln(u) is the standard weighted rendezvous score.
        var unit = ((hash >> 11) + 0.5) / (1UL << 53);
        return Math.Max(1, weight) / -Math.Log(unit);
    }

    private static ulong Mix(ulong hash, string text)
    {
        foreach (var c in text)
        {
            hash = (hash ^ (byte)c) * Prime;
            hash = (hash ^ (byte)(c >> 8)) * Prime;
        }

        // Separator, so ("ab","c") and ("a","bc") differ.
        return (hash ^ 0xFF) * Prime;
    }
}
