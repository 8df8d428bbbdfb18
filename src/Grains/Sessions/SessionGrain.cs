using Distributed.Grains.Abstractions;
using Microsoft.Extensions.Logging;

namespace Distributed.Grains.Sessions;

/// <summary>
/// The pin of one session. Orleans runs one activation at a time per key and this grain is not reentrant,
/// so each call is an atomic read-decide-write; the storage ETag guards the rare duplicate activation during
/// a membership change (the loser's write fails, it reloads, and the caller retries). A change that cannot be stored is
/// undone before the call fails, so the grain never answers from a pin that is not persisted (design I9).
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
public sealed partial class SessionGrain(
    [PersistentState("session", StorageNames.Sessions)] IPersistentState<SessionState> state,
    [FromKeyedServices(BalancerTime.ServiceKey)] TimeProvider time,
    ILogger<SessionGrain> logger) : Grain, ISessionGrain
{
    /// <summary>Minutes an idle session activation stays in memory; more than the collection quantum (one minute).</summary>
    internal const double CollectionAgeMinutes = 2;

    /// <summary>How long an activation woken only by a confirmation waits for another call before it leaves memory.</summary>
    internal static readonly TimeSpan ConfirmationIdle = TimeSpan.FromSeconds(3);

    // Idle expiry granted to callers but not yet persisted (see ExtendAsync).
    private DateTimeOffset _extendedUntil;

    // The newest generation at which a gateway saw the pinned backend keep sessions, not yet persisted (it is stored
    // with the next write: an expiry extension, a change or graceful deactivation).
    private long _seenGeneration;

    // Calls this activation handled (counted by every grain method before it awaits anything).
    private long _calls;

    // The newest epoch this activation stored, kept when an unpin deletes the stored state, so epochs never repeat.
    private long _lastEpoch;

    /// <inheritdoc />
    public async Task<PinResult> GetOrPinAsync(BackendRef proposed, TimeSpan ttl, PinFallback? fallback = null, CancellationToken cancellationToken = default)
    {
        // A caller that gave up while this call was queued gets no pin made on its behalf; once started, a call
        // runs to completion so state and storage never disagree.
        cancellationToken.ThrowIfCancellationRequested();
        var firstCall = _calls++ == 0;
        Validate(proposed, ttl, fallback);
        var now = time.GetUtcNow();
        if (IsLive(now))
        {
            if (proposed.Id == state.State.BackendId && proposed.Generation > Generation)
            {
                _seenGeneration = proposed.Generation;
            }

            await ExtendAsync(now, ttl);
            if (firstCall)
            {
                // Only a confirmation woke this activation: back to storage unless another call follows (see remarks).
                ReleaseWhenIdle();
            }

            return new PinResult(ToPin(), PinOutcome.Existing);
        }

        await ChangeAsync(Choose(proposed, fallback, now), now + ttl);
        return new PinResult(ToPin(), PinOutcome.Created);
    }

    /// <inheritdoc />
    public async Task<PinResult> RepinAsync(long expectedEpoch, long unusableGeneration, BackendRef proposed, TimeSpan ttl, PinFallback? fallback = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _calls++;
        Validate(proposed, ttl, fallback);
        var now = time.GetUtcNow();
        if (!IsLive(now))
        {
            await ChangeAsync(Choose(proposed, fallback, now), now + ttl);
            return new PinResult(ToPin(), PinOutcome.Created);
        }

        if (state.State.Epoch != expectedEpoch || unusableGeneration <= Generation)
        {
            // Another caller moved the pin first, or the caller's view is older than a confirmation of the backend.
            await ExtendAsync(now, ttl);
            return new PinResult(ToPin(), state.State.Epoch != expectedEpoch ? PinOutcome.Conflict : PinOutcome.Refused);
        }

        await ChangeAsync(Choose(proposed, fallback, now), now + ttl);
        return new PinResult(ToPin(), PinOutcome.Repinned);
    }

    /// <inheritdoc />
    public Task<Pin?> GetAsync()
    {
        if (_calls++ == 0)
        {
            // Only a lookup woke this activation (the admin API, or a gateway asking whether a session over its
            // client's budget exists): back to storage unless another call follows.
            ReleaseWhenIdle();
        }

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

        await ChangeAsync(to: null, expiresAt: default);
    }

    /// <inheritdoc />
    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        var session = state.State;
        if (session.BackendId is not null && !IsLive(time.GetUtcNow()) && state.RecordExists)
        {
            // A lapsed pin leaves the store with its activation (Redis also expires it by itself: see IExpiringState).
            await ForgetLapsedAsync();
            return;
        }

        if (session.BackendId is null || (_extendedUntil <= session.ExpiresAt && _seenGeneration <= session.BackendGeneration))
        {
            return;
        }

        var before = session.Copy();
        (session.ExpiresAt, session.BackendGeneration) = (Expiry, Generation);
        try
        {
            await state.WriteStateAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Nobody to tell: the stored pin stays as it was (only its expiry extension is lost).
            session.Restore(before);
            LogNotPersisted(logger, this.GetPrimaryKeyString(), ex);
            return;
        }

        await TrackAsync();
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

    private long Generation => Math.Max(_seenGeneration, state.State.BackendGeneration);

    // The grain key is "{pool}/{sessionKey}"; pool names contain no '/', session keys may.
    private string Pool => this.GetPrimaryKeyString()[..this.GetPrimaryKeyString().IndexOf('/', StringComparison.Ordinal)];

    private string SessionKey => this.GetPrimaryKeyString()[(this.GetPrimaryKeyString().IndexOf('/', StringComparison.Ordinal) + 1)..];

    private Pin ToPin() => new(state.State.BackendId!, state.State.Epoch, Expiry, Generation);

    private static void Validate(BackendRef proposed, TimeSpan ttl, PinFallback? fallback)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(proposed.Id, nameof(proposed));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ttl, TimeSpan.Zero);
        ArgumentException.ThrowIfNullOrWhiteSpace(fallback?.Backend.Id ?? proposed.Id, nameof(fallback));
    }

    // The caller serves its fallback once it stops waiting: a pin made from then on follows its request.
    private static BackendRef Choose(BackendRef proposed, PinFallback? fallback, DateTimeOffset now) =>
        fallback is not null && now >= fallback.From ? fallback.Backend : proposed;

    [LoggerMessage(EventId = 5201, Level = LogLevel.Warning, Message = "Session {Session}: a pin's expiry extension could not be stored; the stored pin stands and the write is retried on the next call.")]
    private static partial void LogNotPersisted(ILogger logger, string session, Exception exception);
}
