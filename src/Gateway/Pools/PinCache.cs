using System.Collections.Concurrent;

namespace Distributed.Gateway.Pools;

/// <summary>A pin as this gateway knows it.</summary>
/// <param name="BackendId">Pinned backend.</param>
/// <param name="Epoch">
/// The pin's epoch at its session grain (1 and up). 0: not from the grain yet — read from the client's signed cookie,
/// or chosen for a brand-new session and written behind the response. -1: a guess made while the grain did not answer
/// within the request's budget, reconciled with the grain in the background.
/// </param>
/// <param name="Generation">The backend's pin generation in the snapshot the pin was cached under (see <see cref="Distributed.Grains.Abstractions.BackendSnapshot.PinGeneration"/>).</param>
/// <param name="ConfirmedAt">When the session grain last confirmed the pin (and extended its expiry).</param>
internal sealed record CachedPin(string BackendId, long Epoch, long Generation, DateTimeOffset ConfirmedAt)
{
    /// <summary>A guess made while the cluster did not answer in time; reconciled with the grain on the next request.</summary>
    public bool IsProvisional => Epoch < 0;
}

/// <summary>The session grain calls a gateway makes for a pin, as the metrics name them.</summary>
internal enum SessionGrainCall
{
    /// <summary>Get-or-pin for a request whose pin was not cached.</summary>
    GetOrPin,

    /// <summary>Whether a session exists, for a key past its client's budget of new sessions.</summary>
    Get,

    /// <summary>A compare-and-set re-pin off an unusable backend.</summary>
    Repin,

    /// <summary>A background confirmation of a cached pin.</summary>
    Confirm,
}

/// <summary>
/// One pool's bounded cache of pins. Entries do not expire by time: a pin older than the confirmation interval is
/// still used at once, and re-confirmed with its grain in the background (which also extends the session's idle expiry
/// cluster-wide). So a request never waits for a known pin, and a pin survives a cluster outage (fail-static). A pin
/// moved by another gateway reaches this cache through the snapshot: a backend's pin generation (which moves on whenever
/// it stops or starts keeping sessions) and the list of sessions unpinned through the admin API.
/// </summary>
/// <remarks>
/// A concurrent dictionary with CLOCK eviction: a hit only sets a flag on its entry (no allocation, no lock), and when
/// the cache is full a background sweep drops entries not used since they were cached or since the previous sweep, so
/// a flood of one-shot sessions cannot evict the pins of returning users. Adds are refused while the
/// cache is at its cap, so it never holds more than <c>maxEntries</c> pins. Answers from grains are offered rather than
/// set, so an answer that arrives late (a background confirmation) never replaces a pin with a higher epoch.
/// </remarks>
internal sealed class PinCache
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _confirming = new(StringComparer.Ordinal);
    private readonly int _capacity;
    private readonly TimeSpan _earliestDue;
    private readonly long[] _grainCalls = new long[Enum.GetValues<SessionGrainCall>().Length];
    private int _count;
    private int _sweeping;
    private long _hits;
    private long _misses;
    private long _guesses;
    private long _overBudget;
    private long _confirmationsDeferred;

    public PinCache(int maxEntries, TimeSpan confirmInterval)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEntries, 1);
        _capacity = maxEntries;
        ConfirmInterval = confirmInterval;
        _earliestDue = confirmInterval * 3 / 4;
    }

    /// <summary>The longest a pin is used before it is confirmed with its grain again (see <see cref="IsDue"/>).</summary>
    public TimeSpan ConfirmInterval { get; }

    public int Count => Volatile.Read(ref _count);

    /// <summary>Requests whose pin came from this cache or the client's cookie, since the gateway started.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Requests whose pin needed the session grain.</summary>
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>Requests routed by a guess because the grain did not answer within the request's budget.</summary>
    public long Guesses => Interlocked.Read(ref _guesses);

    /// <summary>Counts a request answered from the cache (read by the metrics; no per-request metric call).</summary>
    public void CountHit() => Interlocked.Increment(ref _hits);

    /// <summary>Counts a request that needed the session grain.</summary>
    public void CountMiss() => Interlocked.Increment(ref _misses);

    /// <summary>Counts a request routed by a guess.</summary>
    public void CountGuess() => Interlocked.Increment(ref _guesses);

    /// <summary>New sessions refused because their client's budget was spent (routed keyless instead).</summary>
    public long OverBudget => Interlocked.Read(ref _overBudget);

    /// <summary>Counts a new session refused by its client's budget.</summary>
    public void CountOverBudget() => Interlocked.Increment(ref _overBudget);

    /// <summary>Confirmations of due pins left to the session's next request because the gateway's pace was spent.</summary>
    public long ConfirmationsDeferred => Interlocked.Read(ref _confirmationsDeferred);

    /// <summary>Counts a confirmation left to the session's next request.</summary>
    public void CountConfirmationDeferred() => Interlocked.Increment(ref _confirmationsDeferred);

    /// <summary>Session grain calls of <paramref name="call"/>'s kind made for this pool's pins, since the gateway started.</summary>
    public long GrainCalls(SessionGrainCall call) => Interlocked.Read(ref _grainCalls[(int)call]);

    /// <summary>Counts a session grain call (read by the metrics, like the counts above).</summary>
    public void CountGrainCall(SessionGrainCall call) => Interlocked.Increment(ref _grainCalls[(int)call]);

    public CachedPin? Get(string sessionKey)
    {
        if (!_entries.TryGetValue(sessionKey, out var entry))
        {
            return null;
        }

        entry.Touch();
        return entry.Pin;
    }

    /// <summary>Caches <paramref name="pin"/>, replacing whatever was cached for the key.</summary>
    public void Set(string sessionKey, CachedPin pin) => Store(sessionKey, pin, onlyIfNotNewer: false);

    /// <summary>
    /// Caches <paramref name="pin"/> unless the key holds a pin with a higher epoch (a newer answer won the race).
    /// Returns whether it was cached.
    /// </summary>
    public bool Offer(string sessionKey, CachedPin pin) => Store(sessionKey, pin, onlyIfNotNewer: true);

    public void Remove(string sessionKey)
    {
        if (_entries.TryRemove(sessionKey, out _))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    /// <summary>Removes the key's pin if it is still <paramref name="pin"/> (nothing newer replaced it meanwhile).</summary>
    public void Remove(string sessionKey, CachedPin pin)
    {
        if (_entries.TryGetValue(sessionKey, out var entry) && ReferenceEquals(entry.Pin, pin) && _entries.TryRemove(KeyValuePair.Create(sessionKey, entry)))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    /// <summary>
    /// Whether <paramref name="pin"/> of <paramref name="sessionKey"/> is due for confirmation at <paramref name="now"/>:
    /// at an age between three quarters of the confirmation interval and the whole of it, the point fixed by the key.
    /// Pins confirmed at one moment (every session of a warm-up or a burst) so come due over a quarter of an interval
    /// (75 s by default), not in one wave of grain calls, storage reads and writes that takes the cores from the
    /// requests (the 0.5–1 s stalls of the benchmark's latency rounds, docs/benchmarks.md).
    /// </summary>
    public bool IsDue(string sessionKey, CachedPin pin, DateTimeOffset now)
    {
        var age = now - pin.ConfirmedAt;
        return age >= ConfirmInterval || (age >= _earliestDue && age - _earliestDue >= SpreadOf(sessionKey));
    }

    // Where in the last quarter of the interval the key comes due: its hash's share of that quarter (the hash differs
    // between processes, so gateways confirm one session at different moments too).
    private TimeSpan SpreadOf(string sessionKey) =>
        TimeSpan.FromTicks((long)((uint)StringComparer.Ordinal.GetHashCode(sessionKey) / (double)uint.MaxValue * (ConfirmInterval - _earliestDue).Ticks));

    /// <summary>Claims the background confirmation of a key; false when one is already running.</summary>
    public bool TryBeginConfirm(string sessionKey) => _confirming.TryAdd(sessionKey, 0);

    public void EndConfirm(string sessionKey) => _confirming.TryRemove(sessionKey, out _);

    /// <summary>Whether a call to the session's grain is under way for <paramref name="sessionKey"/>.</summary>
    public bool IsConfirming(string sessionKey) => _confirming.ContainsKey(sessionKey);

    private bool Store(string sessionKey, CachedPin pin, bool onlyIfNotNewer)
    {
        while (true)
        {
            if (_entries.TryGetValue(sessionKey, out var entry))
            {
                var current = entry.Pin;
                if (onlyIfNotNewer && current.Epoch > pin.Epoch)
                {
                    return false;
                }

                if (entry.TryReplace(current, pin))
                {
                    return true;
                }

                continue;
            }

            if (Volatile.Read(ref _count) >= _capacity)
            {
                // Full: this key goes uncached (its next request asks its grain again) while a sweep makes room.
                BeginSweep();
                return false;
            }

            if (_entries.TryAdd(sessionKey, new Entry(pin)))
            {
                if (Interlocked.Increment(ref _count) >= _capacity)
                {
                    BeginSweep();
                }

                return true;
            }
        }
    }

    private void BeginSweep()
    {
        if (Interlocked.Exchange(ref _sweeping, 1) == 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static cache => cache.Sweep(), this, preferLocal: false);
        }
    }

    // CLOCK: drop entries not used since the previous pass, clear the flag of the rest, until a tenth of the cap is free.
    private void Sweep()
    {
        try
        {
            var target = _capacity - Math.Max(1, _capacity / 10);
            for (var pass = 0; pass < 2 && Volatile.Read(ref _count) > target; pass++)
            {
                foreach (var (key, entry) in _entries)
                {
                    if (Volatile.Read(ref _count) <= target)
                    {
                        break;
                    }

                    if (!entry.ClearReference() && _entries.TryRemove(KeyValuePair.Create(key, entry)))
                    {
                        Interlocked.Decrement(ref _count);
                    }
                }
            }
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }

    private sealed class Entry(CachedPin pin)
    {
        private CachedPin _pin = pin;

        // Clear at first: a pin never asked for again after it was cached (a one-shot session) is the first to go.
        private int _referenced;

        public CachedPin Pin => Volatile.Read(ref _pin);

        public void Touch()
        {
            if (Volatile.Read(ref _referenced) == 0)
            {
                Volatile.Write(ref _referenced, 1);
            }
        }

        /// <summary>Clears the referenced flag; returns whether it was set.</summary>
        public bool ClearReference() => Interlocked.Exchange(ref _referenced, 0) == 1;

        public bool TryReplace(CachedPin expected, CachedPin pin)
        {
            var replaced = ReferenceEquals(Interlocked.CompareExchange(ref _pin, pin, expected), expected);
            if (replaced)
            {
                Touch();
            }

            return replaced;
        }
    }
}
