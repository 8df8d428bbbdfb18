using System.Collections.Concurrent;
using Orleans.Serialization;
using Orleans.Storage;

namespace Distributed.Grains.Tests;

/// <summary>
/// Grain storage that every silo of an in-process cluster shares, as real silos share Redis: state outlives any one
/// silo (Orleans' memory storage keeps it in grains, lost with the silo that hosts them). Entries are serialized, so no
/// activation shares an object with the store, and writes are ETag-checked like Redis storage's.
/// </summary>
public sealed class SharedGrainStorage(ConcurrentDictionary<string, (byte[] Data, string ETag)> store, Serializer serializer) : IGrainStorage
{
    private static readonly Lock Writes = new();

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (store.TryGetValue(Key(stateName, grainId), out var entry))
        {
            grainState.State = serializer.Deserialize<T>(entry.Data);
            grainState.ETag = entry.ETag;
            grainState.RecordExists = true;
        }
        else
        {
            grainState.State = Activator.CreateInstance<T>();
            grainState.ETag = null;
            grainState.RecordExists = false;
        }

        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var etag = Guid.NewGuid().ToString("N");
        lock (Writes)
        {
            CheckETag(stateName, grainId, grainState.ETag);
            store[Key(stateName, grainId)] = (serializer.SerializeToArray(grainState.State), etag);
        }

        grainState.ETag = etag;
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        lock (Writes)
        {
            CheckETag(stateName, grainId, grainState.ETag);
            store.TryRemove(Key(stateName, grainId), out _);
        }

        grainState.ETag = null;
        grainState.RecordExists = false;
        grainState.State = Activator.CreateInstance<T>();
        return Task.CompletedTask;
    }

    private static string Key(string stateName, GrainId grainId) => $"{stateName}/{grainId}";

    private void CheckETag(string stateName, GrainId grainId, string? expected)
    {
        var stored = store.TryGetValue(Key(stateName, grainId), out var entry) ? entry.ETag : null;
        if (stored != expected)
        {
            throw new InconsistentStateException($"ETag mismatch for {grainId}: stored {stored ?? "none"}, expected {expected ?? "none"}.", stored ?? "", expected ?? "");
        }
    }
}
