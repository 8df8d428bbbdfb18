using Distributed.Grains.Abstractions;
using Orleans.Storage;

namespace Distributed.Grains.Sessions;

/// <summary>
/// The pin of one session. Orleans runs one activation at a time per key and this grain is not reentrant,
/// so each call is an atomic read-decide-write; the storage ETag guards the rare duplicate activation during
/// a membership change (the loser's write fails, it reloads, and the caller retries).
/// </summary>
/// <remarks>
/// An activation costs the silo about 3 KiB (activation record, scheduler, directory entries, this object and its
/// state) while the pin itself is about 100 bytes in grain storage, so silo memory should grow with the sessions being
/// pinned right now, not with all sessions in use. Two rules keep it so. An activation woken only to confirm an existing
/// pin (its first call finds a live pin read from storage: a gateway's periodic confirmation, or a cold cache miss)
/// deactivates once it had no other call for <see cref="ConfirmationIdle"/>, persisting the expiry extension in
/// <see cref="OnDeactivateAsync"/>; the next confirmation is minutes away, so keeping it resident would buy nothing. Not
/// at once: restarted gateways ask for the same session milliseconds apart, and a call that arrives while its activation
/// is deactivating can wait Orleans' whole response timeout (seen in the chaos test: 5 s, twice, then a fail-static
/// guess that split the session). Every other activation (it created the pin, or keeps receiving calls, as a new
/// session does from each gateway within seconds) is collected after <see cref="CollectionAgeMinutes"/> idle minutes
/// instead of Orleans' silo-wide default (hours). Steady-state silo memory is then about the sessions created or
/// called in the last two minutes.
/// </remarks>
[CollectionAgeLimit(Minutes = CollectionAgeMinutes)]
public sealed class SessionGrain(
    [PersistentState("session", StorageNames.Sessions)] IPersistentState<SessionState> state,
    [FromKeyedServices(BalancerTime.ServiceKey)] TimeProvider time) : Grain, ISessionGrain
{
    /// <summary>Minutes an idle session activation stays in memory; more than the collection quantum (one minute).</summary>
    internal const double CollectionAgeMinutes = 2;

    /// <summary>How long an activation woken only by a confirmation waits for another call before it leaves memory.</summary>
    internal static readonly TimeSpan ConfirmationIdle = TimeSpan.FromSeconds(3);

    // Idle expiry granted to callers but not yet persisted (see ExtendAsync).
    private DateTimeOffset _extendedUntil;

    // Calls this activation handled (counted by every grain method before it awaits anything).
    private long _calls;

    /// <inheritdoc />
    public async Task<PinResult> GetOrPinAsync(string proposedBackendId, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        // A caller that gave up while this call was queued gets no pin made on its behalf; once started, a call
        // runs to completion so state and storage never disagree.
        cancellationToken.ThrowIfCancellationRequested();
        var firstCall = _calls++ == 0;
        Validate(proposedBackendId, ttl);
        var now = time.GetUtcNow();
        if (IsLive(now))
        {
            await ExtendAsync(now, ttl);
            if (firstCall)
            {
                // Only a confirmation woke this activation: back to storage unless another call follows (see remarks).
                ReleaseWhenIdle();
            }

            return new PinResult(ToPin(), PinOutcome.Existing);
        }

        await ChangeAsync(proposedBackendId, now + ttl);
        return new PinResult(ToPin(), PinOutcome.Created);
    }

    /// <inheritdoc />
    public async Task<PinResult> RepinAsync(long expectedEpoch, string proposedBackendId, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _calls++;
        Validate(proposedBackendId, ttl);
        var now = time.GetUtcNow();
        var session = state.State;
        if (session.Epoch != expectedEpoch && IsLive(now))
        {
            await ExtendAsync(now, ttl);
            return new PinResult(ToPin(), PinOutcome.Conflict);
        }

        var outcome = session.Epoch == expectedEpoch && session.BackendId is not null ? PinOutcome.Repinned : PinOutcome.Created;
        await ChangeAsync(proposedBackendId, now + ttl);
        return new PinResult(ToPin(), outcome);
    }

    /// <inheritdoc />
    public Task<Pin?> GetAsync()
    {
        _calls++;
        return Task.FromResult(IsLive(time.GetUtcNow()) ? ToPin() : null);
    }

    /// <inheritdoc />
    public async Task UnpinAsync()
    {
        _calls++;
        if (state.State.BackendId is null)
        {
            return;
        }

        await ChangeAsync(backendId: null, expiresAt: default);
    }

    /// <inheritdoc />
    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (state.State.BackendId is not null && _extendedUntil > state.State.ExpiresAt)
        {
            state.State.ExpiresAt = _extendedUntil;
            await state.WriteStateAsync(cancellationToken);
            await TrackAsync();
        }
    }

    // A one-shot timer: Orleans holds it with the activation, and a tick does not count as activity for idle collection.
    private void ReleaseWhenIdle()
    {
        var seen = _calls;
        this.RegisterGrainTimer(
            () =>
            {
                if (_calls == seen)
                {
                    DeactivateOnIdle();
                }

                return Task.CompletedTask;
            },
            new GrainTimerCreationOptions(ConfirmationIdle, Timeout.InfiniteTimeSpan));
    }

    private bool IsLive(DateTimeOffset now) => state.State.BackendId is not null && now < Expiry;

    private DateTimeOffset Expiry => _extendedUntil > state.State.ExpiresAt ? _extendedUntil : state.State.ExpiresAt;

    // Persisting the expiry on every call would turn each cache miss into a storage write. The extension is kept
    // in memory and persisted only once less than half a TTL of the persisted expiry is left (and on graceful
    // deactivation), so a pin is written about twice per TTL at most, and a silo crash costs it half a TTL at most.
    private async Task ExtendAsync(DateTimeOffset now, TimeSpan ttl)
    {
        var wanted = now + ttl;
        if (wanted > _extendedUntil)
        {
            _extendedUntil = wanted;
        }

        if (state.State.ExpiresAt - now >= ttl / 2)
        {
            return;
        }

        state.State.ExpiresAt = _extendedUntil;
        await WriteAsync();
        await TrackAsync();
    }

    private async Task ChangeAsync(string? backendId, DateTimeOffset expiresAt)
    {
        var session = state.State;
        var previous = session.BackendId;
        session.BackendId = backendId;
        session.ExpiresAt = expiresAt;
        session.Epoch++;
        _extendedUntil = default;
        await WriteAsync();
        if (previous is not null && previous != backendId)
        {
            await Index(previous).ForgetAsync(SessionKey);
        }

        await TrackAsync();
    }

    // Keeps the backend's session list (drain progress, admin API) in step with what was persisted. One-way calls.
    private async Task TrackAsync()
    {
        if (state.State.BackendId is { } backend)
        {
            await Index(backend).TrackAsync(SessionKey, state.State.ExpiresAt);
        }
    }

    private IBackendSessionsGrain Index(string backendId) => GrainFactory.GetGrain<IBackendSessionsGrain>($"{Pool}/{backendId}");

    // The grain key is "{pool}/{sessionKey}"; pool names contain no '/', session keys may.
    private string Pool => this.GetPrimaryKeyString()[..this.GetPrimaryKeyString().IndexOf('/', StringComparison.Ordinal)];

    private string SessionKey => this.GetPrimaryKeyString()[(this.GetPrimaryKeyString().IndexOf('/', StringComparison.Ordinal) + 1)..];

    private async Task WriteAsync()
    {
        try
        {
            await state.WriteStateAsync();
        }
        catch (InconsistentStateException)
        {
            // Another activation wrote first: adopt its state so this activation never answers with a pin that
            // was not stored, and let the caller retry against the truth.
            await state.ReadStateAsync();
            throw;
        }
    }

    private Pin ToPin() => new(state.State.BackendId!, state.State.Epoch, Expiry);

    private static void Validate(string proposedBackendId, TimeSpan ttl)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(proposedBackendId);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ttl, TimeSpan.Zero);
    }
}
