using System.Collections.Concurrent;
using System.Collections.Immutable;
using Distributed.Gateway.Configuration;
using Distributed.Gateway.SessionKeys;
using Distributed.Grains.Abstractions;

namespace Distributed.Gateway.Pools;

/// <summary>
/// Everything one gateway holds for one pool: its settings, current view, counters, pin cache and hints, and its balancing
/// and retry policies. The features above (pinning, the cluster's reports, routing, telemetry) work on it; it knows none of them.
/// </summary>
internal sealed class PoolRuntime
{
    private readonly ConcurrentDictionary<string, BackendCounter> _counters = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _firstSnapshot = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private PoolView _view;

    public PoolRuntime(string name, PoolOptions options, SessionKeySource? keySource, PinCacheOptions cacheOptions, TimeProvider time)
    {
        Name = name;
        Options = options;
        KeySource = keySource;
        Seed = [.. options.Backends.Select(b => new BackendSpec(b.Key, b.Value.Address, b.Value.Weight, b.Value.MaxInFlight))];
        Trust = options.BackendTls.TryLoad(out var trust, out var error)
            ? trust
            : throw new InvalidOperationException($"Balancer:Pools:{name}:BackendTls:CaCertificatePath {error}"); // validated at start-up; changed since
        Settings = options.ToSettings(Trust);
        Policy = BalancingPolicy.Create(options);
        Retry = new RetryPolicy(options.Retry);
        Pins = new PinCache(cacheOptions.MaxEntries, cacheOptions.ConfirmInterval);
        Hints = new PinHints(cacheOptions.MaxEntries);
        var seedSnapshot = new PoolSnapshot(
            name,
            RegistryVersion: 0,
            [.. Seed.OrderBy(b => b.Id, StringComparer.Ordinal).Select(b => new BackendSnapshot(b.Id, b.Address, b.Weight, BackendState.Active, 0, EffectiveWeight: b.Weight, MaxInFlight: b.MaxInFlight))],
            LiveGateways: 0,
            time.GetUtcNow());
        _view = new PoolView(seedSnapshot, time.GetUtcNow(), fromCluster: false, CounterFor);
    }

    public string Name { get; }

    public PoolOptions Options { get; }

    /// <summary>Where this pool's session keys come from; <c>null</c> for a pool without stickiness.</summary>
    public SessionKeySource? KeySource { get; }

    /// <summary>How new sessions and keyless requests choose their backend.</summary>
    public BalancingPolicy Policy { get; }

    /// <summary>Which failed requests are sent once more to another backend.</summary>
    public RetryPolicy Retry { get; }

    /// <summary>The backends from configuration, used to seed the cluster's registry.</summary>
    public ImmutableArray<BackendSpec> Seed { get; }

    /// <summary>The authorities HTTPS backends must chain to; <c>null</c> for the operating system's trust store.</summary>
    public BackendTrust? Trust { get; }

    /// <summary>Health and operations settings from configuration, sent to the pool grain.</summary>
    public PoolSettings Settings { get; }

    /// <summary>This gateway's cache of the pool's pins.</summary>
    public PinCache Pins { get; }

    /// <summary>Where sessions this gateway has not seen were pinned when it started, when that is not their first choice.</summary>
    public PinHints Hints { get; }

    public PoolView View => Volatile.Read(ref _view);

    /// <summary>Completes when the first snapshot from the cluster replaced the configuration seed.</summary>
    public Task FirstSnapshot => _firstSnapshot.Task;

    /// <summary>Raised after a snapshot with a different registry version replaced the view.</summary>
    public event Action<PoolRuntime>? RegistryChanged;

    public BackendCounter CounterFor(string backendId) => _counters.GetOrAdd(backendId, static _ => new BackendCounter());

    /// <summary>Every backend's counter this gateway has had, removed backends included (their totals stay).</summary>
    public IEnumerable<KeyValuePair<string, BackendCounter>> Counters => _counters;

    /// <summary>This gateway's current in-flight counts, to report.</summary>
    public ImmutableArray<BackendLoad> CaptureLoad()
    {
        var builder = ImmutableArray.CreateBuilder<BackendLoad>(_counters.Count);
        foreach (var (id, counter) in _counters)
        {
            var (completed, failed) = counter.TakeOutcomes();
            builder.Add(new BackendLoad(id, counter.InFlight, completed, failed));
        }

        return builder.DrainToImmutable();
    }

    /// <summary>
    /// Where a new session of <paramref name="sessionKey"/> (or, without one, a keyless request) goes in the current
    /// view, never <paramref name="excludedId"/>, as the pool's <see cref="Policy"/> decides.
    /// </summary>
    /// <param name="sessionKey">The session's key; <c>null</c> for a keyless request.</param>
    /// <param name="requestKey">What the policy hashes for this request (<see cref="BalancingPolicy.RequestKey"/>).</param>
    /// <param name="random">The randomness of random and least-loaded choices.</param>
    /// <param name="excludedId">A backend not to choose.</param>
    public BackendEntry? Place(string? sessionKey, string? requestKey, Random random, string? excludedId = null) =>
        Policy.Choose(View, sessionKey, requestKey, excludedId, random);

    /// <summary>
    /// Adopts the tracker's answer to <paramref name="reported"/>. A snapshot of a pool without registry (its store lost
    /// the data) is not adopted: routing stays on the last view until the pool is seeded again. Neither is one overtaken
    /// by the view's own (older catalog, made earlier).
    /// </summary>
    public void Apply(PoolSnapshot snapshot, ImmutableArray<BackendLoad> reported, DateTimeOffset receivedAt)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (snapshot.Unseeded || IsOvertaken(snapshot))
        {
            return;
        }

        foreach (var load in reported)
        {
            CounterFor(load.BackendId).Reported = load.InFlight;
        }

        foreach (var counter in _counters.Values)
        {
            counter.SnapshotArrived();
        }

        if (!snapshot.RecentlyUnpinned.IsDefaultOrEmpty)
        {
            foreach (var key in snapshot.RecentlyUnpinned)
            {
                Pins.Remove(key);
            }
        }

        var previous = View;
        Volatile.Write(ref _view, new PoolView(snapshot, receivedAt, fromCluster: true, CounterFor));
        if (!previous.FromCluster || previous.Snapshot.RegistryVersion != snapshot.RegistryVersion)
        {
            RegistryChanged?.Invoke(this);
        }

        _firstSnapshot.TrySetResult();
    }

    // An answer made before the view's own and of an older catalog: a report in flight while this gateway adopted a
    // change out of turn (an admin call, a refresh). Both tests, because a pool seeded again after its store lost the
    // data starts its catalog's version afresh, later.
    private bool IsOvertaken(PoolSnapshot snapshot)
    {
        var current = View;
        return current.FromCluster
            && snapshot.RegistryVersion < current.Snapshot.RegistryVersion
            && snapshot.GeneratedAt < current.Snapshot.GeneratedAt;
    }
}
