using System.Collections.Concurrent;
using Orleans.Serialization;
using Orleans.Storage;

namespace Distributed.Grains.Tests.Storage;

/// <summary>
/// In-memory grain storage with ETags (as Redis storage checks them) whose writes can be made to fail, to hang until
/// released, or whose records can be lost, per grain key, so a test class shares one cluster and each test faults only
/// its own grain.
/// </summary>
public sealed class ControlledGrainStorage : IGrainStorage
{
    private readonly ConcurrentDictionary<string, (object State, string ETag)> _records = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Fault> _faults = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _writes = new(StringComparer.Ordinal);

    /// <summary>Set when the silo resolves the storage: copies keep stored records apart from grain state.</summary>
    public DeepCopier? Copier { get; set; }

    /// <summary>Writes of <paramref name="grainKey"/> throw until <see cref="Heal"/>.</summary>
    public void FailWrites(string grainKey) => _faults[grainKey] = new Fault(Hang: null);

    /// <summary>Writes of <paramref name="grainKey"/> wait until <see cref="Heal"/> (as a store that stopped answering).</summary>
    public void HangWrites(string grainKey) => _faults[grainKey] = new Fault(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>Writes of <paramref name="grainKey"/> work again; hung writes go on.</summary>
    public void Heal(string grainKey)
    {
        if (_faults.TryRemove(grainKey, out var fault))
        {
            fault.Hang?.TrySetResult();
        }
    }

    /// <summary>Forgets every record of <paramref name="grainKey"/>, as a store restarted empty.</summary>
    public void Lose(string grainKey)
    {
        foreach (var key in _records.Keys.Where(k => k.EndsWith("|" + grainKey, StringComparison.Ordinal)))
        {
            _records.TryRemove(key, out _);
        }
    }

    /// <summary>Stores a record as an earlier activation would have.</summary>
    public void Put(string stateName, string grainKey, object record) => _records[Key(stateName, grainKey)] = (record, Guid.NewGuid().ToString("N"));

    /// <summary>Writes of <paramref name="grainKey"/> that reached the store (including failed ones).</summary>
    public int WritesOf(string grainKey) => _writes.GetValueOrDefault(grainKey);

    /// <summary>The stored record of <paramref name="grainKey"/>, or null.</summary>
    public T? Stored<T>(string stateName, string grainKey)
        where T : class =>
        _records.TryGetValue(Key(stateName, grainKey), out var record) ? Copier!.Copy((T)record.State) : null;

    /// <inheritdoc />
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (_records.TryGetValue(Key(stateName, grainId.Key.ToString()!), out var record))
        {
            grainState.State = Copier!.Copy((T)record.State);
            grainState.ETag = record.ETag;
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

    /// <inheritdoc />
    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var grainKey = grainId.Key.ToString()!;
        _writes.AddOrUpdate(grainKey, 1, (_, n) => n + 1);
        if (_faults.TryGetValue(grainKey, out var fault))
        {
            if (fault.Hang is null)
            {
                throw new IOException($"Injected: the store refuses writes of '{grainKey}'.");
            }

            await fault.Hang.Task;
        }

        var key = Key(stateName, grainKey);
        var stored = _records.TryGetValue(key, out var record) ? record.ETag : null;
        if (stored != grainState.ETag)
        {
            // As Redis storage: a write must name the stored version; none stored needs none named.
            throw new InconsistentStateException($"ETag mismatch for '{key}': stored {stored ?? "none"}, written {grainState.ETag ?? "none"}.", stored ?? "", grainState.ETag ?? "");
        }

        var etag = Guid.NewGuid().ToString("N");
        _records[key] = (Copier!.Copy(grainState.State)!, etag);
        grainState.ETag = etag;
        grainState.RecordExists = true;
    }

    /// <inheritdoc />
    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        _records.TryRemove(Key(stateName, grainId.Key.ToString()!), out _);
        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }

    private static string Key(string stateName, string grainKey) => $"{stateName}|{grainKey}";

    private sealed record Fault(TaskCompletionSource? Hang);
}
