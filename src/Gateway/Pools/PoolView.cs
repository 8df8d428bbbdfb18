using System.Buffers;
using System.Collections.Frozen;
using Distributed.Gateway.LoadBalancing;
using Distributed.Grains.Abstractions;

namespace Distributed.Gateway.Pools;

/// <summary>This gateway's live counters for one backend; they outlive snapshots.</summary>
internal sealed class BackendCounter
{
    private int _inFlight;

    /// <summary>Requests this gateway has in flight to the backend right now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>The in-flight figure this gateway included in its last report (part of the snapshot's cluster figure).</summary>
    public int Reported { get; set; }

    private long _completed;
    private long _failed;
    private long _succeededTotal;
    private long _failedTotal;
    private int _placed;

    /// <summary>
    /// New sessions this gateway pinned here since its last snapshot. Their first request may be over already, but the
    /// sessions will come back: the selector counts them, so a backend that looks idle in a snapshot does not collect
    /// every new session until the next one.
    /// </summary>
    public int PlacedSinceSnapshot => Volatile.Read(ref _placed);

    /// <summary>Counts a session pinned here by this gateway.</summary>
    public void Placed() => Interlocked.Increment(ref _placed);

    /// <summary>A new snapshot arrived: its figures are the baseline again.</summary>
    public void SnapshotArrived() => Volatile.Write(ref _placed, 0);

    /// <summary>Requests forwarded that were no gateway failure (see <c>GatewayFailure</c>), since the gateway started.</summary>
    public long SucceededTotal => Interlocked.Read(ref _succeededTotal);

    /// <summary>Requests forwarded that got no answer or a 502/503/504, since the gateway started.</summary>
    public long FailedTotal => Interlocked.Read(ref _failedTotal);

    public void Begin() => Interlocked.Increment(ref _inFlight);

    /// <summary>
    /// Ends a request and records its outcome, for passive health (taken by the next report) and for the request
    /// metrics (running totals, read when metrics are collected: no per-request metric call).
    /// </summary>
    public void End(bool failed)
    {
        Interlocked.Decrement(ref _inFlight);
        Interlocked.Increment(ref _completed);
        if (failed)
        {
            Interlocked.Increment(ref _failed);
            Interlocked.Increment(ref _failedTotal);
        }
        else
        {
            Interlocked.Increment(ref _succeededTotal);
        }
    }

    /// <summary>Outcomes since the previous call (the next load report carries them).</summary>
    public (long Completed, long Failed) TakeOutcomes()
    {
        // Failed first: a request ending between the two exchanges is then counted as completed-and-succeeded at
        // worst, never as a failure without a completion.
        var failed = Interlocked.Exchange(ref _failed, 0);
        var completed = Interlocked.Exchange(ref _completed, 0);
        return (Math.Max(completed, failed), failed);
    }
}

/// <summary>One backend in a view: the cluster's figures plus this gateway's counter.</summary>
internal sealed class BackendEntry(BackendSnapshot backend, BackendCounter counter)
{
    public BackendSnapshot Backend { get; } = backend;

    public BackendCounter Counter { get; } = counter;

    public string Id => Backend.Id;

    /// <summary>Whether the backend takes new sessions and keyless requests (active, healthy or panic, not full).</summary>
    public bool AcceptsNew => Backend.AcceptsNewSessions && !IsFull;

    /// <summary>Whether sessions pinned to the backend stay there (healthy or panic, not past a drain deadline).</summary>
    public bool KeepsSessions => Backend.KeepsSessions;

    /// <summary>Whether the cluster-wide in-flight limit is reached (as far as this gateway can tell).</summary>
    public bool IsFull => Backend.MaxInFlight > 0 && EstimatedInFlight >= Backend.MaxInFlight;

    /// <summary>
    /// Cluster-wide in flight, corrected for what happened here since the snapshot: this gateway's reported share is
    /// replaced by its live count, so its own recent choices count at once rather than one report later.
    /// </summary>
    public int EstimatedInFlight => Math.Max(0, Backend.ClusterInFlight - Counter.Reported) + Counter.InFlight;

    /// <summary>What the least-loaded choice weighs: the in-flight estimate plus the sessions placed since the snapshot.</summary>
    public int EstimatedLoad => EstimatedInFlight + Counter.PlacedSinceSnapshot;
}

/// <summary>An immutable view of a pool built from one snapshot; swapped atomically when a new one arrives.</summary>
internal sealed class PoolView
{
    private readonly FrozenDictionary<string, BackendEntry> _byId;

    public PoolView(PoolSnapshot snapshot, DateTimeOffset receivedAt, bool fromCluster, Func<string, BackendCounter> counterFor)
    {
        Snapshot = snapshot;
        ReceivedAt = receivedAt;
        FromCluster = fromCluster;
        Backends = [.. snapshot.Backends.Select(b => new BackendEntry(b, counterFor(b.Id)))];
        _byId = Backends.ToFrozenDictionary(b => b.Id, StringComparer.Ordinal);
    }

    public PoolSnapshot Snapshot { get; }

    public DateTimeOffset ReceivedAt { get; }

    /// <summary>False while the view is still the configuration seed (the cluster has not answered yet).</summary>
    public bool FromCluster { get; }

    public BackendEntry[] Backends { get; }

    public BackendEntry? Find(string backendId) => _byId.GetValueOrDefault(backendId);

    /// <summary>Weighted least-loaded choice (power of two choices) among backends that accept new work; <c>null</c> when none does.</summary>
    public BackendEntry? ChooseLeastLoaded(Random random) => ChooseLeastLoadedExcept(excludedId: null, random);

    /// <summary>As <see cref="ChooseLeastLoaded"/>, never choosing <paramref name="excludedId"/>.</summary>
    public BackendEntry? ChooseLeastLoadedExcept(string? excludedId, Random random) => Choose(excludedId, random, LeastLoadedBackendSelector.Select);

    /// <summary>Weighted random choice among backends that accept new work, never <paramref name="excludedId"/>; <c>null</c> when none does.</summary>
    public BackendEntry? ChooseRandomExcept(string? excludedId, Random random) => Choose(excludedId, random, WeightedRandomBackendSelector.Select);

    private delegate int Selector(ReadOnlySpan<BackendCandidate> candidates, Random random);

    private BackendEntry? Choose(string? excludedId, Random random, Selector select)
    {
        var backends = Backends;
        Span<BackendCandidate> candidates = backends.Length <= 64 ? stackalloc BackendCandidate[backends.Length] : new BackendCandidate[backends.Length];
        for (var i = 0; i < backends.Length; i++)
        {
            var b = backends[i];
            candidates[i] = new BackendCandidate(b.EstimatedLoad, b.Backend.EffectiveWeight, b.AcceptsNew && !string.Equals(b.Id, excludedId, StringComparison.Ordinal));
        }

        var index = select(candidates, random);
        return index < 0 ? null : backends[index];
    }

    /// <summary>
    /// Where a new session of <paramref name="sessionKey"/> goes: consistent hashing with bounded loads over the backends
    /// that take new sessions, never <paramref name="excludedId"/>; <c>null</c> when none does.
    /// </summary>
    public BackendEntry? Place(string sessionKey, double balanceFactor, string? excludedId = null) => Choose(sessionKey, balanceFactor, excludedId, ignoreLoad: false);

    /// <summary>
    /// Where this gateway guesses a session it knows nothing about is pinned, when its grain does not answer in time:
    /// the key's first choice among the backends the cluster lets take new sessions, load ignored. That is where
    /// placement put every session whose first choice was not overloaded at the time, and, depending on the cluster's
    /// verdicts only, it is the same guess on every gateway: two gateways meeting a new session while its grain is
    /// unreachable never split it.
    /// </summary>
    public BackendEntry? Guess(string sessionKey) => Choose(sessionKey, balanceFactor: 0, excludedId: null, ignoreLoad: true);

    private BackendEntry? Choose(string sessionKey, double balanceFactor, string? excludedId, bool ignoreLoad)
    {
        var backends = Backends;
        var candidates = ArrayPool<PlacementCandidate>.Shared.Rent(backends.Length);
        try
        {
            for (var i = 0; i < backends.Length; i++)
            {
                var b = backends[i];
                var usable = (ignoreLoad ? b.Backend.AcceptsNewSessions : b.AcceptsNew) && !string.Equals(b.Id, excludedId, StringComparison.Ordinal);
                candidates[i] = new PlacementCandidate(b.Id, b.Backend.Weight, b.Backend.EffectiveWeight, b.EstimatedInFlight, usable);
            }

            var index = BoundedLoadPlacement.Choose(sessionKey, candidates.AsSpan(0, backends.Length), balanceFactor);
            return index < 0 ? null : backends[index];
        }
        finally
        {
            ArrayPool<PlacementCandidate>.Shared.Return(candidates, clearArray: true);
        }
    }
}
