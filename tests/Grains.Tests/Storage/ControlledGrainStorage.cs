using System.Collections.Concurrent;
using Orleans.Serialization;
using Orleans.Storage;

namespace Distributed.Grains.Tests.Storage;

/// <summary>
/// In-memory grain storage with ETags (as Redis storage checks them) whose writes can be made to fail, to hang until
/// released, or whose records can be lost, per grain key, so a test class shares one cluster and each test faults only
/// its own grain. Records are deep copies, so no activation shares an object with the store; one instance registered
/// in every silo of an in-process cluster is a store the silos share, as real silos share Redis.
/// </summary>
public sealed class ControlledGrainStorage : IGrainStorage
{
    private readonly ConcurrentDictionary<string, (object State, string ETag)> _records;
    private readonly ConcurrentDictionary<string, Fault> _faults;
    private readonly ConcurrentDictionary<string, int> _writes;
    private DeepCopier? _copier;

    public ControlledGrainStorage()
        : this(new(StringComparer.Ordinal), new(StringComparer.Ordinal), new(StringComparer.Ordinal), copier: null)
    {
    }

    private ControlledGrainStorage(
        ConcurrentDictionary<string, (object State, string ETag)> records,
        ConcurrentDictionary<string, Fault> faults,
        ConcurrentDictionary<string, int> writes,
        DeepCopier? copier) => (_records, _faults, _writes, _copier) = (records, faults, writes, copier);

    private DeepCopier Copier => _copier ?? throw new InvalidOperationException("No silo has resolved this storage yet.");

    /// <summary>
    /// The storage as one silo sees it: the same records and faults, copied with that silo's copier (a stopped silo's
    /// copier is disposed, so each silo copies with its own). Test reads through this instance use the first one given.
    /// </summary>
    public ControlledGrainStorage With(DeepCopier copier)
    {
        _copier ??= copier;
        return new ControlledGrainStorage(_records, _faults, _writes, copier);
    }

    /// <summary>Writes of <paramref name="grainKey"/> throw until <see cref="Heal"/>.</summary>
    public void FailWrites(string grainKey) => _faults[grainKey] = new Fault(Hang: null);

    /// <summary>Writes of <paramref name="grainKey"/> wait until <see cref="Heal"/> (as a store that stopped answering).</summary>
    public void HangWrites(string grainKey) => _faults[grainKey] = new Fault(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>Writes of <paramref name="grainKey"/> throw until the returned handle is disposed.</summary>
    public IDisposable FailingWrites(string grainKey)
    {
        FailWrites(grainKey);
        return new Healing(this, grainKey);
    }

    /// <summary>Whether a record of <paramref name="grainKey"/> is stored.</summary>
    public bool IsStored(string grainKey) => _records.Keys.Any(k => k.EndsWith("|" + grainKey, StringComparison.Ordinal));

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
        _records.TryGetValue(Key(stateName, grainKey), out var record) ? Copier.Copy((T)record.State) : null;

    /// <inheritdoc />
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (_records.TryGetValue(Key(stateName, grainId.Key.ToString()!), out var record))
        {
            grainState.State = Copier.Copy((T)record.State);
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
        var key = await CheckWriteAsync(stateName, grainKey, grainState.ETag);
        var etag = Guid.NewGuid().ToString("N");
        _records[key] = (Copier.Copy(grainState.State)!, etag);
        grainState.ETag = etag;
        grainState.RecordExists = true;
    }

    /// <inheritdoc />
    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        // A delete is a write: it fails, hangs and checks the ETag alike.
        _records.TryRemove(await CheckWriteAsync(stateName, grainId.Key.ToString()!, grainState.ETag), out _);
        grainState.ETag = null;
        grainState.RecordExists = false;
    }

    private async Task<string> CheckWriteAsync(string stateName, string grainKey, string? etag)
    {
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
        if (stored != etag)
        {
            // As Redis storage: a write must name the stored version; none stored needs none named.
            throw new InconsistentStateException($"ETag mismatch for '{key}': stored {stored ?? "none"}, written {etag ?? "none"}.", stored ?? "", etag ?? "");
        }

        return key;
    }

    private static string Key(string stateName, string grainKey) => $"{stateName}|{grainKey}";

    private sealed record Fault(TaskCompletionSource? Hang);

    private sealed class Healing(ControlledGrainStorage storage, string grainKey) : IDisposable
    {
        public void Dispose() => storage.Heal(grainKey);
    }
}
