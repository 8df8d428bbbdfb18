using System.Collections.Concurrent;
using System.Collections.Immutable;
using Distributed.Grains.Abstractions;

namespace Distributed.Gateway.Tests.Pools;

/// <summary>
/// Pool grains as the gateway's reporter sees them, one per pool name, each answering, failing or never answering as
/// a test says. Only the calls the reporter makes are implemented.
/// </summary>
internal sealed class FakePoolGrains : IGrainFactory
{
    private readonly ConcurrentDictionary<string, FakePoolGrain> _pools = new(StringComparer.Ordinal);

    public FakePoolGrain this[string pool] => _pools.GetOrAdd(pool, name => new FakePoolGrain(name));

    public TGrainInterface GetGrain<TGrainInterface>(string primaryKey, string? grainClassNamePrefix = null)
        where TGrainInterface : IGrainWithStringKey =>
        typeof(TGrainInterface) == typeof(IPoolGrain) ? (TGrainInterface)(object)this[primaryKey] : throw new NotSupportedException(typeof(TGrainInterface).Name);

    public TGrainInterface GetGrain<TGrainInterface>(Guid primaryKey, string? grainClassNamePrefix = null)
        where TGrainInterface : IGrainWithGuidKey => throw new NotSupportedException();

    public TGrainInterface GetGrain<TGrainInterface>(long primaryKey, string? grainClassNamePrefix = null)
        where TGrainInterface : IGrainWithIntegerKey => throw new NotSupportedException();

    public TGrainInterface GetGrain<TGrainInterface>(Guid primaryKey, string keyExtension, string? grainClassNamePrefix = null)
        where TGrainInterface : IGrainWithGuidCompoundKey => throw new NotSupportedException();

    public TGrainInterface GetGrain<TGrainInterface>(long primaryKey, string keyExtension, string? grainClassNamePrefix = null)
        where TGrainInterface : IGrainWithIntegerCompoundKey => throw new NotSupportedException();

    public TGrainObserverInterface CreateObjectReference<TGrainObserverInterface>(IGrainObserver obj)
        where TGrainObserverInterface : IGrainObserver => throw new NotSupportedException();

    public void DeleteObjectReference<TGrainObserverInterface>(IGrainObserver obj)
        where TGrainObserverInterface : IGrainObserver => throw new NotSupportedException();

    public IGrain GetGrain(Type grainInterfaceType, Guid grainPrimaryKey) => throw new NotSupportedException();

    public IGrain GetGrain(Type grainInterfaceType, long grainPrimaryKey) => throw new NotSupportedException();

    public IGrain GetGrain(Type grainInterfaceType, string grainPrimaryKey) => throw new NotSupportedException();

    public IGrain GetGrain(Type grainInterfaceType, Guid grainPrimaryKey, string keyExtension) => throw new NotSupportedException();

    public IGrain GetGrain(Type grainInterfaceType, long grainPrimaryKey, string keyExtension) => throw new NotSupportedException();

    public TGrainInterface GetGrain<TGrainInterface>(GrainId grainId)
        where TGrainInterface : IAddressable => throw new NotSupportedException();

    public IAddressable GetGrain(GrainId grainId) => throw new NotSupportedException();

    public IAddressable GetGrain(GrainId grainId, GrainInterfaceType interfaceType) => throw new NotSupportedException();

    public IAddressable GetGrain(Type interfaceType, IdSpan grainKey, string grainClassNamePrefix) => throw new NotSupportedException();

    public IAddressable GetGrain(Type interfaceType, IdSpan grainKey) => throw new NotSupportedException();
}

/// <summary>How a fake pool grain answers.</summary>
internal enum FakeAnswer
{
    Snapshot,
    Fail,
    Never,
}

internal sealed class FakePoolGrain(string name) : IPoolGrain
{
    private int _reports;

    public FakeAnswer Answer { get; set; }

    public int Reports => Volatile.Read(ref _reports);

    public Task<PoolSnapshot> InitializeAsync(ImmutableArray<BackendSpec> seed, PoolSettings settings, CancellationToken cancellationToken = default) =>
        AnswerAsync(seed, cancellationToken);

    public Task<PoolSnapshot> ReportAsync(LoadReport report, CancellationToken cancellationToken = default)
    {
        var answer = AnswerAsync([], cancellationToken);
        if (Answer == FakeAnswer.Snapshot)
        {
            Interlocked.Increment(ref _reports);
        }

        return answer;
    }

    public Task<PoolSnapshot> GetSnapshotAsync() => throw new NotSupportedException();

    public Task<AdminResult> AddBackendAsync(BackendSpec backend, string actor) => throw new NotSupportedException();

    public Task<AdminResult> UpdateBackendAsync(string backendId, BackendPatch patch, string actor) => throw new NotSupportedException();

    public Task<AdminResult> RemoveBackendAsync(string backendId, string actor) => throw new NotSupportedException();

    public Task<AdminResult> DrainBackendAsync(string backendId, TimeSpan? timeout, string actor) => throw new NotSupportedException();

    public Task<AdminResult> CancelDrainAsync(string backendId, string actor) => throw new NotSupportedException();

    public Task NotifyUnpinnedAsync(string sessionKey) => throw new NotSupportedException();

    public Task ReportProbeAsync(string backendId, string address, bool healthy) => throw new NotSupportedException();

    private Task<PoolSnapshot> AnswerAsync(ImmutableArray<BackendSpec> seed, CancellationToken cancellationToken) => Answer switch
    {
        FakeAnswer.Snapshot => Task.FromResult(new PoolSnapshot(
            name,
            1,
            [.. seed.Select(b => new BackendSnapshot(b.Id, b.Address, b.Weight, BackendState.Active, 0))],
            1,
            DateTimeOffset.UnixEpoch)),
        FakeAnswer.Fail => Task.FromException<PoolSnapshot>(new TimeoutException($"Injected: pool grain {name} did not answer.")),
        _ => Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith<PoolSnapshot>(_ => throw new OperationCanceledException(cancellationToken), TaskScheduler.Default),
    };
}
