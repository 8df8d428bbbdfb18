namespace Distributed.Grains.Abstractions;

/// <summary>
/// The one owner of the string keys of grains that belong to a pool: <c>{pool}/{name}</c>, where the name is a session
/// key (<see cref="ISessionGrain"/>) or a backend id (<see cref="IBackendSessionsGrain"/>, <see cref="IBackendProbeGrain"/>).
/// A pool grain's key is the pool name alone. Pool names never contain '/' (<see cref="BackendRules.IsValidId"/>) while
/// session keys may, so a key splits at its first '/'.
/// </summary>
public static class GrainKeys
{
    private const char Separator = '/';

    /// <summary>The key of the session grain of <paramref name="sessionKey"/> in <paramref name="pool"/>.</summary>
    public static string Session(string pool, string sessionKey) => Join(pool, sessionKey);

    /// <summary>The key of the prober and of the session list of backend <paramref name="backendId"/> in <paramref name="pool"/>.</summary>
    public static string Backend(string pool, string backendId) => Join(pool, backendId);

    /// <summary>The pool and the name (session key or backend id) of a key made by <see cref="Session"/> or <see cref="Backend"/>.</summary>
    /// <exception cref="FormatException">The key has no pool part.</exception>
    public static (string Pool, string Name) Parse(string grainKey)
    {
        ArgumentNullException.ThrowIfNull(grainKey);
        var separator = grainKey.IndexOf(Separator, StringComparison.Ordinal);
        return separator > 0
            ? (grainKey[..separator], grainKey[(separator + 1)..])
            : throw new FormatException($"'{grainKey}' is not a pool-scoped grain key ('{{pool}}/{{name}}').");
    }

    private static string Join(string pool, string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(pool);
        ArgumentNullException.ThrowIfNull(name);
        if (pool.Contains(Separator, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Pool name '{pool}' contains '{Separator}'.", nameof(pool));
        }

        return string.Concat(pool, "/", name);
    }
}
