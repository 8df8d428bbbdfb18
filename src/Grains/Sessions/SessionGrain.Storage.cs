using Distributed.Grains.Abstractions;
using Orleans.Storage;

namespace Distributed.Grains.Sessions;

/// <summary>
/// The session grain's stored state: expiry extensions written lazily, changes written or undone, lapsed pins cleared,
/// and the per-backend session lists kept in step.
/// </summary>
public sealed partial class SessionGrain
{
    // Persisting the expiry on every call would turn each cache miss into a storage write. The extension is kept
    // in memory and persisted only once less than half a TTL of the persisted expiry is left (and on graceful
    // deactivation), so a pin is written about twice per TTL at most, and a silo crash costs it half a TTL at most.
    // A failed extension write is not the caller's failure: the pin it gets is the stored one, and the write is
    // tried again on the next call.
    private async Task ExtendAsync(DateTimeOffset now, TimeSpan ttl)
    {
        var wanted = now + ttl;
        if (wanted > _extendedUntil)
        {
            _extendedUntil = wanted;
        }

        var session = state.State;
        if (session.ExpiresAt - now >= ttl / 2)
        {
            return;
        }

        var before = session.Copy();
        (session.ExpiresAt, session.BackendGeneration) = (_extendedUntil, Generation);
        try
        {
            await WriteOrRevertAsync(before);
        }
        catch (Exception ex) when (ex is not InconsistentStateException)
        {
            LogNotPersisted(logger, this.GetPrimaryKeyString(), ex);
            return;
        }

        await TrackAsync();
    }

    // A change of the pin: stored (or, for an unpin, the stored state deleted) before anything answers from it.
    private async Task ChangeAsync(BackendRef? to, DateTimeOffset expiresAt)
    {
        var session = state.State;
        var before = session.Copy();
        var extension = (_extendedUntil, _seenGeneration);
        (session.BackendId, session.ExpiresAt, session.BackendGeneration) = (to?.Id, expiresAt, to?.Generation ?? 0);

        // Epochs start at the balancer clock in milliseconds rather than at 1: a pin whose stored state was deleted
        // (unpinned, or lapsed and expired from Redis) and pinned again still gets an epoch above every earlier one.
        session.Epoch = Math.Max(Math.Max(session.Epoch, _lastEpoch) + 1, time.GetUtcNow().ToUnixTimeMilliseconds());
        (_extendedUntil, _seenGeneration) = (default, 0);
        try
        {
            await WriteOrRevertAsync(before, delete: to is null);
            _lastEpoch = Math.Max(_lastEpoch, session.Epoch);
        }
        catch
        {
            if (state.State.Epoch == before.Epoch)
            {
                (_extendedUntil, _seenGeneration) = extension; // reverted: the pin before the change is still ours
            }

            throw;
        }

        if (before.BackendId is not null && before.BackendId != session.BackendId)
        {
            await Index(before.BackendId).ForgetAsync(SessionKey);
        }

        await TrackAsync();
    }

    // Writes the state. When that fails the activation goes back to what is stored, so it never answers from a change
    // that was not persisted: after an ETag conflict (another activation wrote first) it adopts the stored state and the
    // caller retries against the truth; after any other failure it restores the state from before the change.
    private async Task WriteOrRevertAsync(SessionState before, bool delete = false)
    {
        try
        {
            if (!delete)
            {
                await state.WriteStateAsync();
            }
            else if (state.RecordExists)
            {
                var epoch = state.State.Epoch;
                await state.ClearStateAsync();
                state.State.Restore(new SessionState { Epoch = epoch });
            }
        }
        catch (InconsistentStateException)
        {
            try
            {
                await state.ReadStateAsync();
            }
            catch (Exception ex)
            {
                // Unknown stored state: answer nothing more from this activation.
                state.State.Restore(before);
                DeactivateOnIdle();
                LogNotPersisted(logger, this.GetPrimaryKeyString(), ex);
            }

            throw;
        }
        catch
        {
            state.State.Restore(before);
            throw;
        }
    }

    private async Task ForgetLapsedAsync()
    {
        var lapsed = state.State.Copy();
        try
        {
            await state.ClearStateAsync();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogNotPersisted(logger, this.GetPrimaryKeyString(), ex); // the store's own expiry removes it later
            return;
        }

        await Index(lapsed.BackendId!).ForgetAsync(SessionKey);
    }

    // Keeps the backend's session list (drain progress, admin API) in step with what was persisted. One-way calls.
    private async Task TrackAsync()
    {
        if (state.State.BackendId is { } backend)
        {
            await Index(backend).TrackAsync(SessionKey, state.State.ExpiresAt);
        }
    }

    private IBackendSessionsGrain Index(string backendId) => GrainFactory.GetGrain<IBackendSessionsGrain>(GrainKeys.Backend(Pool, backendId));
}
