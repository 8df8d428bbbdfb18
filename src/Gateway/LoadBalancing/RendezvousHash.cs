namespace Distributed.Gateway.LoadBalancing;

/// <summary>
/// Weighted rendezvous (highest random weight) hashing with a fixed hash function (FNV-1a with a Murmur3 finalizer), so every process
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
        var hash = Finalize(Mix(Mix(OffsetBasis, key), backendId));
        // Uniform in (0, 1) from the top 53 bits; -w / ln(u) is the standard weighted rendezvous score.
        var unit = ((hash >> 11) + 0.5) / (1UL << 53);
        return Math.Max(1, weight) / -Math.Log(unit);
    }

    // FNV-1a mixes its high bits poorly for short, similar inputs ("user-1", "user-2"); MurmurHash3's 64-bit
    // finalizer spreads every input bit over the whole word.
    private static ulong Finalize(ulong hash)
    {
        hash ^= hash >> 33;
        hash *= 0xff51afd7ed558ccd;
        hash ^= hash >> 33;
        hash *= 0xc4ceb9fe1a85ec53;
        return hash ^ (hash >> 33);
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
