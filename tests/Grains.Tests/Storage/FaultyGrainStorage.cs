using System.Collections.Concurrent;
using Orleans.Serialization;
using Orleans.Storage;

namespace Distributed.Grains.Tests.Storage;

/// <summary>
/// Grain storage in memory with ETags, like Orleans' memory storage, that can be told to fail the writes of chosen
/// grains: what a Redis outage or a full disk looks like to a grain. State is stored as serialized bytes, so a grain's
/// in-memory object is never the stored one (a change that was not written cannot leak into storage).
/// </summary>
public sealed class FaultyGrainStorage(Serializer serializer) : IGrainStorage
{
    private static readonly ConcurrentDictionary<GrainId, int> FailingWrites = new();
    // Static, so tests can see what is stored; grain ids are unique per test.
    private static readonly ConcurrentDictionary<(string State, GrainId Grain), (byte[] Data, string ETag)> Store = new();

    /// <summary>Fails every write of <paramref name="grain"/> until the returned handle is disposed.</summary>
    public static IDisposable FailWritesOf(GrainId grain)
    {
        FailingWrites.AddOrUpdate(grain, 1, (_, n) => n + 1);
        return new Undo(grain);
    }

    /// <summary>Whether a record of <paramref name="grain"/> is stored.</summary>
    public static bool IsStored(GrainId grain) => Store.Keys.Any(k => k.Grain == grain);

    /// <inheritdoc />
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        if (Store.TryGetValue((stateName, grainId), out var stored))
        {
            grainState.State = serializer.Deserialize<T>(stored.Data);
            (grainState.ETag, grainState.RecordExists) = (stored.ETag, true);
        }
        else
        {
            grainState.State = Activator.CreateInstance<T>();
            (grainState.ETag, grainState.RecordExists) = (null, false);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        Check(stateName, grainId, grainState.ETag);
        var etag = Guid.NewGuid().ToString("N");
        Store[(stateName, grainId)] = (serializer.SerializeToArray(grainState.State), etag);
        (grainState.ETag, grainState.RecordExists) = (etag, true);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        Check(stateName, grainId, grainState.ETag);
        Store.TryRemove((stateName, grainId), out _);
        (grainState.ETag, grainState.RecordExists) = (null, false);
        return Task.CompletedTask;
    }

    private static void Check(string stateName, GrainId grainId, string? etag)
    {
        if (FailingWrites.ContainsKey(grainId))
        {
            throw new IOException($"Injected write failure for {grainId}.");
        }

        var stored = Store.TryGetValue((stateName, grainId), out var current) ? current.ETag : null;
        if (stored != etag)
        {
            throw new InconsistentStateException($"ETag mismatch for {grainId}: stored {stored ?? "none"}, written {etag ?? "none"}.", stored, etag);
        }
    }

    private sealed class Undo(GrainId grain) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                FailingWrites.AddOrUpdate(grain, 0, (_, n) => n - 1);
                FailingWrites.TryRemove(KeyValuePair.Create(grain, 0));
            }
        }
    }
}
