using System.Collections.Concurrent;
using Microsoft.Extensions.Caching.Memory;

namespace Distributed.Gateway.Pinning;

/// <summary>A pin as this gateway knows it.</summary>
/// <param name="BackendId">Pinned backend.</param>
/// <param name="Epoch">The pin's epoch at the grain; -1 for a provisional pin made while the cluster was unreachable.</param>
/// <param name="Generation">The backend's pin generation in the snapshot the pin was cached under (see <see cref="Distributed.Grains.Abstractions.BackendSnapshot.PinGeneration"/>).</param>
/// <param name="ConfirmedAt">When the session grain last confirmed the pin (and extended its expiry).</param>
internal sealed record CachedPin(string BackendId, long Epoch, long Generation, DateTimeOffset ConfirmedAt)
{
    /// <summary>A pin chosen locally while the cluster did not answer; reconciled with the grain on the next request.</summary>
    public bool IsProvisional => Epoch < 0;
}

/// <summary>
/// One pool's bounded cache of pins. Entries do not expire by time: a pin older than the confirmation interval is
/// still used at once, and re-confirmed with its grain in the background (which also extends the session's idle expiry
/// cluster-wide). So a request never waits for a known pin, and a pin survives a cluster outage (fail-static). Only the
/// size cap evicts. A pin moved by another gateway reaches this cache through the snapshot: a backend's pin generation
/// (bumped whenever it stops keeping sessions) and the list of sessions unpinned through the admin API.
/// </summary>
internal sealed class PinCache : IDisposable
{
    private readonly MemoryCache _cache;
    private readonly ConcurrentDictionary<string, byte> _confirming = new(StringComparer.Ordinal);
    private long _hits;
    private long _misses;

    public PinCache(int maxEntries, TimeSpan confirmInterval)
    {
        _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = maxEntries, CompactionPercentage = 0.1 });
        ConfirmInterval = confirmInterval;
    }

    /// <summary>How long a pin is used before it is confirmed with its grain again.</summary>
    public TimeSpan ConfirmInterval { get; }

    public int Count => _cache.Count;

    /// <summary>Requests whose pin came from this cache, since the gateway started.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Requests whose pin needed the session grain, since the gateway started.</summary>
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>Counts a request answered from the cache (read by the metrics; no per-request metric call).</summary>
    public void CountHit() => Interlocked.Increment(ref _hits);

    /// <summary>Counts a request that needed the session grain.</summary>
    public void CountMiss() => Interlocked.Increment(ref _misses);

    public CachedPin? Get(string sessionKey) => _cache.TryGetValue(sessionKey, out CachedPin? pin) ? pin : null;

    public void Set(string sessionKey, CachedPin pin) =>
        _cache.Set(sessionKey, pin, new MemoryCacheEntryOptions { Size = 1 });

    public void Remove(string sessionKey) => _cache.Remove(sessionKey);

    /// <summary>Whether <paramref name="pin"/> is due for confirmation at <paramref name="now"/>.</summary>
    public bool IsDue(CachedPin pin, DateTimeOffset now) => now - pin.ConfirmedAt >= ConfirmInterval;

    /// <summary>Claims the background confirmation of a key; false when one is already running.</summary>
    public bool TryBeginConfirm(string sessionKey) => _confirming.TryAdd(sessionKey, 0);

    public void EndConfirm(string sessionKey) => _confirming.TryRemove(sessionKey, out _);

    public void Dispose() => _cache.Dispose();
}
