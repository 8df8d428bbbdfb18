using Orleans.Storage;

namespace Distributed.Grains.Pools;

/// <summary>
/// Stores a pool's registry for its grain, which applies a change only once it is stored. Handles the two ways the
/// store can disagree with the activation: another activation stored first (a duplicate activation during a
/// membership change: the ETag no longer matches), or the stored record vanished (the store lost its data). Keeps the
/// backoff of the grain's background writes.
/// </summary>
public sealed class PoolStore(IPersistentState<PoolState> state, PoolLog log)
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan LastRetry = TimeSpan.FromSeconds(30);
    private int _failures;
    private DateTimeOffset _failingSince;

    /// <summary>How long the next background write waits: zero unless the last ones failed, then doubling to 30 s.</summary>
    public TimeSpan RetryDelay { get; private set; }

    /// <summary>A background write failed: backs off, and logs when this starts an outage.</summary>
    public void BackgroundWriteFailed(Exception exception, DateTimeOffset now)
    {
        RetryDelay = RetryDelay == TimeSpan.Zero ? FirstRetry : TimeSpan.FromTicks(Math.Min(RetryDelay.Ticks * 2, LastRetry.Ticks));
        if (_failures++ == 0)
        {
            _failingSince = now;
            log.StoreFailing(exception, RetryDelay);
        }
    }

    /// <summary>A background write succeeded: ends an outage (and logs its end).</summary>
    public void BackgroundWriteSucceeded(DateTimeOffset now)
    {
        if (_failures > 0)
        {
            log.StoreRecovered(_failures, now - _failingSince);
        }

        (_failures, RetryDelay) = (0, TimeSpan.Zero);
    }

    /// <summary>
    /// Stores <paramref name="next"/>: returns <c>null</c> once it is stored, or the registry another activation stored
    /// first, which is the current one from now on (the caller plans its change again on it). Throws when the store
    /// fails; nothing is stored then and the current registry stays.
    /// </summary>
    public async Task<PoolState?> WriteAsync(PoolState next)
    {
        ArgumentNullException.ThrowIfNull(next);
        var current = state.State;
        try
        {
            await WriteAsync(next, current);
            return null;
        }
        catch (InconsistentStateException)
        {
            // The stored ETag is another one: read what is stored to see why.
        }

        await state.ReadStateAsync();
        if (!state.RecordExists)
        {
            // This activation holds the registry the store lost: write it back (with the change) rather than fail forever.
            log.StoredStateVanished();
            await WriteAsync(next, current);
            return null;
        }

        log.StoredByAnotherActivation(state.State.RegistryVersion);
        return state.State;
    }

    private async Task WriteAsync(PoolState next, PoolState restore)
    {
        state.State = next;
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            state.State = restore;
            throw;
        }
    }
}
