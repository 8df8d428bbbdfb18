using Orleans.Storage;

namespace Distributed.Grains.Pools;

/// <summary>
/// Stores a pool's catalog for its grain, which applies a change only once it is stored. Handles the two ways the
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
    private TimeSpan _retryDelay;
    private long _checksToSkip;

    /// <summary>
    /// Whether the background write is backing off after failures; counts one skipped check. Counted in checks
    /// rather than on the pool's clock, so it holds whatever that clock does.
    /// </summary>
    public bool BackingOff()
    {
        if (_checksToSkip == 0)
        {
            return false;
        }

        _checksToSkip--;
        return true;
    }

    /// <summary>
    /// A background write failed: skips the checks of the next 250 ms, doubling with each failure up to 30 s, and logs
    /// when this starts an outage.
    /// </summary>
    public void BackgroundWriteFailed(Exception exception, TimeSpan checkInterval, DateTimeOffset now)
    {
        _retryDelay = _retryDelay == TimeSpan.Zero ? FirstRetry : TimeSpan.FromTicks(Math.Min(_retryDelay.Ticks * 2, LastRetry.Ticks));
        _checksToSkip = (long)Math.Ceiling(_retryDelay / checkInterval) - 1;
        if (_failures++ == 0)
        {
            _failingSince = now;
            log.StoreFailing(exception, _retryDelay);
        }
    }

    /// <summary>A background write succeeded: ends an outage (and logs its end).</summary>
    public void BackgroundWriteSucceeded(DateTimeOffset now)
    {
        if (_failures > 0)
        {
            log.StoreRecovered(_failures, now - _failingSince);
        }

        (_failures, _retryDelay, _checksToSkip) = (0, TimeSpan.Zero, 0);
    }

    /// <summary>
    /// Stores <paramref name="next"/>: returns <c>null</c> once it is stored, or the catalog another activation stored
    /// first, which is the current one from now on (the caller plans its change again on it). Throws when the store
    /// fails; nothing is stored then and the current catalog stays.
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
            // This activation holds the catalog the store lost: write it back (with the change) rather than fail forever.
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
