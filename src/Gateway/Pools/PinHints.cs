using System.Collections.Concurrent;

namespace Distributed.Gateway.Pools;

/// <summary>
/// Sessions a starting gateway learned are pinned somewhere else than its guess would say: loaded once from the
/// cluster's per-backend session lists (<see cref="Pinning.PinHintWarmup"/>), consulted only when the pin cache has nothing for
/// a session. A hint is never trusted as a pin: it is what the session grain is asked to confirm, and where the request
/// goes if the grain does not answer within the wait budget, so a restarted gateway guesses right for sessions that
/// earlier failures, drains or bounded loads moved off their first choice. Bounded: once full, further hints are dropped.
/// </summary>
internal sealed class PinHints(int capacity)
{
    private readonly ConcurrentDictionary<string, string> _backends = new(StringComparer.Ordinal);
    private int _loaded;

    /// <summary>How many sessions have a hint.</summary>
    public int Count => _backends.Count;

    /// <summary>Whether no more hints are taken.</summary>
    public bool IsFull => _backends.Count >= capacity;

    /// <summary>Whether the warm-up ended (loaded, gave up or found nothing to load).</summary>
    public bool Loaded => Volatile.Read(ref _loaded) == 1;

    /// <summary>The backend a session was last seen pinned to by the cluster, if this gateway was told.</summary>
    public string? Find(string sessionKey) => _backends.TryGetValue(sessionKey, out var backend) ? backend : null;

    /// <summary>Records a hint; false once full.</summary>
    public bool TryAdd(string sessionKey, string backendId)
    {
        if (IsFull)
        {
            return false;
        }

        _backends[sessionKey] = backendId;
        return true;
    }

    /// <summary>Marks the warm-up as ended.</summary>
    public void MarkLoaded() => Volatile.Write(ref _loaded, 1);
}
