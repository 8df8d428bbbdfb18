using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Reflection;
using Distributed.Grains.Abstractions;

namespace Distributed.Gateway.Tests.Fakes;

/// <summary>
/// An <see cref="IGrainFactory"/> (an interface, as YARP's own tests fake their collaborators) handing out in-memory
/// session and pool grains whose answers a test controls: held until released, failing, or answering as the real grains'
/// contracts say.
/// </summary>
public sealed class FakeGrains
{
    private readonly ConcurrentDictionary<string, FakeSessionGrain> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, FakePoolGrain> _pools = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, FakeBackendSessionsGrain> _lists = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    /// <param name="time">The clock the session grains judge a <see cref="PinFallback"/> by.</param>
    public FakeGrains(TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        var factory = DispatchProxy.Create<IGrainFactory, GrainFactoryProxy>();
        ((GrainFactoryProxy)(object)factory).Resolve = Resolve;
        Factory = factory;
    }

    public IGrainFactory Factory { get; }

    /// <summary>The session grain of <paramref name="key"/> in <paramref name="pool"/>.</summary>
    public FakeSessionGrain Session(string pool, string key) => _sessions.GetOrAdd(GrainKeys.Session(pool, key), _ => new FakeSessionGrain(_time));

    /// <summary>Every session grain a test or the code under test touched.</summary>
    public IEnumerable<FakeSessionGrain> Sessions => _sessions.Values;

    public FakePoolGrain Pool(string name) => _pools.GetOrAdd(name, n => new FakePoolGrain(n));

    /// <summary>The session list of one backend of <paramref name="pool"/>.</summary>
    public FakeBackendSessionsGrain SessionList(string pool, string backendId) => _lists.GetOrAdd(GrainKeys.Backend(pool, backendId), _ => new FakeBackendSessionsGrain());

    private object Resolve(Type type, string key)
    {
        if (type == typeof(ISessionGrain))
        {
            return _sessions.GetOrAdd(key, _ => new FakeSessionGrain(_time));
        }

        if (type == typeof(IPoolGrain))
        {
            return Pool(key);
        }

        if (type == typeof(IBackendSessionsGrain))
        {
            return _lists.GetOrAdd(key, _ => new FakeBackendSessionsGrain());
        }

        throw new NotSupportedException($"No fake for {type.Name}.");
    }
}

/// <summary>One backend's session list: the keys a test puts in, paged in order as the real grain does.</summary>
public sealed class FakeBackendSessionsGrain : IBackendSessionsGrain
{
    private readonly SortedSet<string> _keys = new(StringComparer.Ordinal);

    /// <summary>While set, listing waits for it (or for its cancellation).</summary>
    public TaskCompletionSource? Hold { get; set; }

    public void Add(params string[] keys)
    {
        lock (_keys)
        {
            _keys.UnionWith(keys);
        }
    }

    public Task TrackAsync(string sessionKey, DateTimeOffset expiresAt) => throw new NotSupportedException();

    public Task ForgetAsync(string sessionKey) => throw new NotSupportedException();

    public async Task<SessionPage> ListAsync(string? after, int limit)
    {
        if (Hold is { } hold)
        {
            await hold.Task;
        }

        lock (_keys)
        {
            var page = _keys.Where(k => after is null || string.CompareOrdinal(k, after) > 0).Take(limit).ToList();
            var next = page.Count == limit && string.CompareOrdinal(page[^1], _keys.Max) < 0 ? page[^1] : null;
            return new SessionPage(page, next, _keys.Count);
        }
    }
}

/// <summary>The proxy behind <see cref="FakeGrains.Factory"/>: only <c>GetGrain&lt;T&gt;(string)</c> is answered.</summary>
public class GrainFactoryProxy : DispatchProxy
{
    internal Func<Type, string, object>? Resolve { get; set; }

    /// <inheritdoc />
    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
        targetMethod is { Name: nameof(IGrainFactory.GetGrain), IsGenericMethod: true } && args is [string key, ..]
            ? Resolve!(targetMethod.GetGenericArguments()[0], key)
            : throw new NotSupportedException($"The fake grain factory does not do {targetMethod?.Name}.");
}

/// <summary>A session grain keeping its pin in memory, with the real grain's rules of get-or-pin and re-pin.</summary>
public sealed class FakeSessionGrain(TimeProvider time) : ISessionGrain
{
    private readonly Lock _gate = new();
    private long _epoch;

    /// <summary>The stored pin.</summary>
    public Pin? Current { get; set; }

    /// <summary>Calls as "operation backend@generation", in order.</summary>
    public ConcurrentQueue<string> Calls { get; } = new();

    /// <summary>While set, every call waits for it (or for its cancellation token).</summary>
    public TaskCompletionSource? Hold { get; set; }

    /// <summary>Calls to fail (with <see cref="TimeoutException"/>, as a dead silo's) before answering again.</summary>
    public int FailNext { get; set; }

    /// <summary>Runs as a get-or-pin call arrives (e.g. moves the clock, as a process that was not scheduled).</summary>
    public Action? OnGetOrPin { get; set; }

    public async Task<PinResult> GetOrPinAsync(BackendRef proposed, TimeSpan ttl, PinFallback? fallback = null, CancellationToken cancellationToken = default)
    {
        Calls.Enqueue($"get_or_pin {proposed.Id}@{proposed.Generation}{Describe(fallback)}");
        OnGetOrPin?.Invoke();
        await GateAsync(cancellationToken);
        lock (_gate)
        {
            if (Current is { } pin)
            {
                if (pin.BackendId == proposed.Id && proposed.Generation > pin.BackendGeneration)
                {
                    Current = pin with { BackendGeneration = proposed.Generation };
                }

                return new PinResult(Current, PinOutcome.Existing);
            }

            var chosen = Choose(proposed, fallback);
            Current = new Pin(chosen.Id, ++_epoch, DateTimeOffset.MaxValue, chosen.Generation);
            return new PinResult(Current, PinOutcome.Created);
        }
    }

    public async Task<PinResult> RepinAsync(long expectedEpoch, long unusableGeneration, BackendRef proposed, TimeSpan ttl, PinFallback? fallback = null, CancellationToken cancellationToken = default)
    {
        Calls.Enqueue($"repin {proposed.Id}@{proposed.Generation} unusable@{unusableGeneration}{Describe(fallback)}");
        await GateAsync(cancellationToken);
        lock (_gate)
        {
            if (Current is { } pin)
            {
                if (pin.Epoch != expectedEpoch)
                {
                    return new PinResult(pin, PinOutcome.Conflict);
                }

                if (unusableGeneration <= pin.BackendGeneration)
                {
                    return new PinResult(pin, PinOutcome.Refused);
                }
            }

            var outcome = Current is null ? PinOutcome.Created : PinOutcome.Repinned;
            _epoch = Math.Max(_epoch, Current?.Epoch ?? 0);
            var chosen = Choose(proposed, fallback);
            Current = new Pin(chosen.Id, ++_epoch, DateTimeOffset.MaxValue, chosen.Generation);
            return new PinResult(Current, outcome);
        }
    }

    public async Task<Pin?> GetAsync()
    {
        Calls.Enqueue("get");
        await GateAsync(CancellationToken.None);
        return Current;
    }

    public Task UnpinAsync()
    {
        Current = null;
        return Task.CompletedTask;
    }

    /// <summary>Pins the session as if a gateway had, with epoch <paramref name="epoch"/>.</summary>
    public Pin Pin(string backendId, long epoch = 1, long generation = 0)
    {
        _epoch = epoch;
        return Current = new Pin(backendId, epoch, DateTimeOffset.MaxValue, generation);
    }

    private static string Describe(PinFallback? fallback) => fallback is null ? "" : $" late {fallback.Backend.Id}";

    // As the real grain: a pin made once the caller may have served its fallback follows the caller.
    private BackendRef Choose(BackendRef proposed, PinFallback? fallback) =>
        fallback is not null && time.GetUtcNow() >= fallback.From ? fallback.Backend : proposed;

    private async Task GateAsync(CancellationToken cancellationToken)
    {
        if (Hold is { } hold)
        {
            await hold.Task.WaitAsync(cancellationToken);
        }

        if (FailNext > 0)
        {
            FailNext--;
            throw new TimeoutException("Injected failure.");
        }
    }
}

/// <summary>A pool grain answering with the snapshot a test sets, and recording what it was told.</summary>
public sealed class FakePoolGrain(string name) : IPoolGrain
{
    /// <summary>The answer to every call; <see cref="PoolSnapshot.Unseeded"/> until seeded when <see cref="LoseRegistry"/> was called.</summary>
    public PoolSnapshot Snapshot { get; set; } = new(name, 1, [], 0, DateTimeOffset.UnixEpoch);

    /// <summary>While set, calls fail as if the cluster were unreachable.</summary>
    public bool Unreachable { get; set; }

    /// <summary>While set, calls never answer (a silo that died mid-call); they end only when cancelled.</summary>
    public bool Hangs { get; set; }

    public ConcurrentQueue<LoadReport> Reports { get; } = new();

    public ConcurrentQueue<ImmutableArray<BackendSpec>> Seeds { get; } = new();

    private int _snapshotCalls;

    /// <summary>Calls of <see cref="GetSnapshotAsync"/>.</summary>
    public int SnapshotCalls => Volatile.Read(ref _snapshotCalls);

    /// <summary>From now on the pool has no backend catalog (its store lost it) until seeded again.</summary>
    public void LoseRegistry() => Snapshot = Snapshot with { Backends = [], Unseeded = true };

    public async Task<PoolSnapshot> InitializeAsync(ImmutableArray<BackendSpec> seed, PoolSettings settings, CancellationToken cancellationToken = default)
    {
        await CheckAsync(cancellationToken);
        Seeds.Enqueue(seed);
        if (Snapshot.Unseeded || Snapshot.Backends.IsEmpty)
        {
            Snapshot = Snapshot with
            {
                Unseeded = false,
                RegistryVersion = Snapshot.RegistryVersion + 1,
                Backends = [.. seed.Select(b => new BackendSnapshot(b.Id, b.Address, b.Weight, BackendState.Active, 0, EffectiveWeight: b.Weight, MaxInFlight: b.MaxInFlight))],
            };
        }

        return Snapshot;
    }

    public async Task<PoolSnapshot> ReportAsync(LoadReport report, CancellationToken cancellationToken = default)
    {
        await CheckAsync(cancellationToken);
        Reports.Enqueue(report);
        return Snapshot;
    }

    public async Task<PoolSnapshot> GetSnapshotAsync()
    {
        await CheckAsync(CancellationToken.None);
        Interlocked.Increment(ref _snapshotCalls);
        return Snapshot;
    }

    /// <summary>Gateways whose lease was released.</summary>
    public ConcurrentQueue<string> Released { get; } = new();

    public async Task ReleaseLeaseAsync(string gatewayId, CancellationToken cancellationToken = default)
    {
        await CheckAsync(cancellationToken);
        Released.Enqueue(gatewayId);
    }

    public Task<PoolEventPage> GetEventsAsync(long? after = null) => throw new NotSupportedException();

    public Task<AdminResult> AddBackendAsync(BackendSpec backend, string actor) => throw new NotSupportedException();

    public Task<AdminResult> UpdateBackendAsync(string backendId, BackendPatch patch, string actor) => throw new NotSupportedException();

    public Task<AdminResult> RemoveBackendAsync(string backendId, string actor) => throw new NotSupportedException();

    public Task<AdminResult> DrainBackendAsync(string backendId, TimeSpan? timeout, string actor) => throw new NotSupportedException();

    public Task<AdminResult> CancelDrainAsync(string backendId, string actor) => throw new NotSupportedException();

    public Task NotifyUnpinnedAsync(string sessionKey) => throw new NotSupportedException();

    public Task ReportProbeAsync(string backendId, string address, bool healthy) => throw new NotSupportedException();

    private async Task CheckAsync(CancellationToken cancellationToken)
    {
        if (Hangs)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        if (Unreachable)
        {
            throw new TimeoutException("The pool grain is unreachable.");
        }
    }
}
