using System.Net;
using Distributed.Gateway.Cluster;
using Distributed.Gateway.Configuration;
using Distributed.Gateway.Pools;
using Distributed.Gateway.SessionKeys;
using Distributed.Grains.Abstractions;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Pinning;

/// <summary>How a request's backend was decided.</summary>
public enum RoutingOutcome
{
    /// <summary>No backend is usable.</summary>
    NoBackend = 0,

    /// <summary>A request without session key: where the pool's policy sends it (least-loaded by default).</summary>
    Keyless,

    /// <summary>The session's existing pin (from cache, cookie or grain).</summary>
    Pinned,

    /// <summary>A new session, placed by the pool's policy (consistent hashing with bounded loads by default).</summary>
    New,

    /// <summary>The session's pin was unusable and moved.</summary>
    Repinned,

    /// <summary>
    /// The grain did not answer within the request's budget: routed by the gateway's guess (where placement puts the
    /// session), reconciled with the grain in the background.
    /// </summary>
    Provisional,
}

/// <summary>The routing decision for one request.</summary>
/// <param name="Backend">Where the request goes; <c>null</c> when nowhere.</param>
/// <param name="Outcome">How it was decided.</param>
/// <param name="Pin">The session's pin as the cluster has it, for a cookie to carry; <c>null</c> for guesses and keyless requests.</param>
internal readonly record struct RoutingDecision(BackendEntry? Backend, RoutingOutcome Outcome, PinHint? Pin = null);

/// <summary>
/// Resolves a session's backend. A cached, usable pin answers at once (and is re-confirmed with its grain in the
/// background when due); so does the pin a signed session cookie carries. A brand-new cookie session is placed at once
/// and its pin written behind the response. Otherwise the session grain decides, within
/// <see cref="BalancerOptions.ClusterWaitBudget"/> in total: get-or-pin proposing where the session most likely is
/// (its cached backend, else where placement puts it), and a compare-and-set re-pin when the pinned backend is no
/// longer usable. Past the budget the request goes where that proposal says, the guess, and the grain's answer is
/// taken in the background; since placement is consistent hashing with bounded loads, the guess is the real pin for
/// nearly every session (docs/chaos.md).
/// </summary>
internal sealed partial class SessionPinResolver(
    IGrainFactory grains,
    Random random,
    TimeProvider time,
    ClusterConnectivity connectivity,
    PoolViewRefresher refresher,
    NewSessionBudget budget,
    ConfirmationPacer pacer,
    IOptions<BalancerOptions> options,
    ILogger<SessionPinResolver> logger)
{
    // Re-pin attempts before following the cluster's pin; each lost attempt means another gateway moved the pin.
    private const int MaxRepinAttempts = 3;

    // The grain pins the guess from the last fifth of the remaining budget on (50 ms of 250): an answer made just
    // before the gateway stops waiting may still be in transit when it does.
    private const int FallbackMarginDivisor = 5;
    private readonly TimeSpan _budget = options.Value.ClusterWaitBudget;
    private readonly TimeSpan _callTimeout = options.Value.ClusterCallTimeout;
    private readonly TimeSpan _viewLease = options.Value.EffectiveReportLease;

    // Asking the cluster cannot help: its pool grains do not answer reports, or no silo is connected at all.
    private bool ClusterAway => connectivity.IsDegraded || connectivity.NoSiloConnected;

    /// <summary>The randomness behind the policies' random and least-loaded choices (injected, so tests can seed it).</summary>
    public Random Random => random;

    /// <summary>The backend of a request of <paramref name="pool"/> with session key <paramref name="key"/>.</summary>
    /// <param name="pool">The request's pool.</param>
    /// <param name="key">What the request says about its session.</param>
    /// <param name="client">The client's address, for its budget of new sessions.</param>
    /// <param name="requestKey">What the pool's policy hashes for this request (<see cref="BalancingPolicy.RequestKey"/>).</param>
    public ValueTask<RoutingDecision> ResolveAsync(PoolRuntime pool, in SessionKeyResult key, IPAddress? client = null, string? requestKey = null)
    {
        ArgumentNullException.ThrowIfNull(pool);
        var view = pool.View;
        if (key.Key is not { } sessionKey)
        {
            var backend = pool.Policy.Choose(view, sessionKey: null, requestKey, excludedId: null, random);
            return ValueTask.FromResult(new RoutingDecision(backend, backend is null ? RoutingOutcome.NoBackend : RoutingOutcome.Keyless));
        }

        var now = time.GetUtcNow();
        if (view.FromCluster && now - view.ReceivedAt > _viewLease && !ClusterAway)
        {
            // Older than a report lease although reports do not fail: this process was paused (a long GC, a starved
            // or stopped container) and the view may predate moves other gateways made meanwhile. Catch up first.
            return ResolveAfterRefreshAsync(pool, key, client, requestKey);
        }

        return Resolve(pool, view, key, client, requestKey, now, started: 0);
    }

    private async ValueTask<RoutingDecision> ResolveAfterRefreshAsync(PoolRuntime pool, SessionKeyResult key, IPAddress? client, string? requestKey)
    {
        var started = time.GetTimestamp();
        try
        {
            await refresher.RefreshAsync(pool).WaitAsync(_budget, time);
        }
        catch (Exception ex)
        {
            LogStaleView(logger, pool.Name, ex); // route from the view there is (fail-static)
        }

        return await Resolve(pool, pool.View, key, client, requestKey, time.GetUtcNow(), started);
    }

    // started: when the request began waiting for the cluster (0: not yet), so the budget covers every wait together.
    private ValueTask<RoutingDecision> Resolve(PoolRuntime pool, PoolView view, in SessionKeyResult key, IPAddress? client, string? requestKey, DateTimeOffset now, long started)
    {
        var sessionKey = key.Key!;
        if (key.IsNew)
        {
            return ValueTask.FromResult(budget.TryTake(client, view.Snapshot.LiveGateways) ? PlaceNew(pool, sessionKey, requestKey, now) : OverBudget(pool, view, requestKey));
        }

        // A guess is served again without asking only while asking cannot help: the cluster is away, or a call to the
        // session's grain is still under way. Otherwise it is what the grain is asked to pin, not a pin.
        var cached = pool.Pins.Get(sessionKey);
        if (cached is not null
            && (!cached.IsProvisional || ClusterAway || pool.Pins.IsConfirming(sessionKey))
            && Usable(pool, view, cached, now) is { } hit)
        {
            pool.Pins.CountHit();
            if (cached.IsProvisional || pool.Pins.IsDue(sessionKey, cached, now))
            {
                ConfirmInBackground(pool, sessionKey, cached, paced: !cached.IsProvisional);
            }

            return ValueTask.FromResult(new RoutingDecision(hit, RoutingOutcome.Pinned, cached.IsProvisional ? null : Hint(cached)));
        }

        if (key.Hint is { } carried && (cached is null || cached.Epoch <= 0))
        {
            // The client's cookie names the pin, signed by a gateway: as good as a cached pin not confirmed since.
            var fromCookie = new CachedPin(carried.BackendId, Epoch: 0, carried.Generation, carried.ConfirmedAt);
            if (Usable(pool, view, fromCookie, now) is { } hinted)
            {
                pool.Pins.Set(sessionKey, fromCookie);
                pool.Pins.CountHit();
                if (pool.Pins.IsDue(sessionKey, fromCookie, now))
                {
                    ConfirmInBackground(pool, sessionKey, fromCookie, paced: true);
                }

                return ValueTask.FromResult(new RoutingDecision(hinted, RoutingOutcome.Pinned, carried));
            }
        }

        pool.Pins.CountMiss();

        // Where the session most likely is: its last known backend (cached, carried by its cookie, or hinted at start-up)
        // while that still keeps sessions (its generation merely moved on), else where placement puts it. This is what
        // the grain is asked to pin if it has no pin (a store that lost its data). The guess, where the request goes if
        // the grain does not answer in time, is the same last known backend, else the policy's guess (the key's first
        // choice regardless of load), so every gateway guesses alike.
        var known = cached?.BackendId ?? key.Hint?.BackendId ?? pool.Hints.Find(sessionKey);
        var last = known is not null ? view.Find(known) is { KeepsSessions: true } keeps ? keeps : null : null;
        var proposal = last ?? pool.Place(sessionKey, requestKey, random);
        var guess = last ?? pool.Policy.Guess(view, sessionKey, requestKey) ?? proposal;
        if (proposal is null || guess is null)
        {
            return ValueTask.FromResult(new RoutingDecision(null, RoutingOutcome.NoBackend));
        }

        // A key this gateway knows nothing about may be a new session: only within the client's budget may the grain
        // create one; past it the grain is only asked whether the session exists.
        var mayCreate = last is not null || budget.TryTake(client, view.Snapshot.LiveGateways);
        return ResolveWithGrainAsync(pool, view, sessionKey, requestKey, proposal, mayCreate ? guess : null, started == 0 ? time.GetTimestamp() : started);
    }

    // A new session past its client's budget: served as a keyless request, nothing pinned, cached or issued.
    private RoutingDecision OverBudget(PoolRuntime pool, PoolView view, string? requestKey)
    {
        pool.Pins.CountOverBudget();
        var backend = pool.Policy.Choose(view, sessionKey: null, requestKey, excludedId: null, random);
        return new RoutingDecision(backend, backend is null ? RoutingOutcome.NoBackend : RoutingOutcome.Keyless);
    }

    private BackendEntry? Usable(PoolRuntime pool, PoolView view, CachedPin pin, DateTimeOffset now) =>
        view.Find(pin.BackendId) is { } backend
        && PinValidity.IsUsable(pin, backend.Backend, now, pool.Options.SessionTtl, ClusterAway)
            ? backend
            : null;

    // A minted cookie session: nobody else knows its id, so nothing can disagree with a local placement. The pin is
    // written behind the response (one grain call, one storage write) and the cookie carries it meanwhile.
    private RoutingDecision PlaceNew(PoolRuntime pool, string sessionKey, string? requestKey, DateTimeOffset now)
    {
        pool.Pins.CountMiss();
        var placed = pool.Place(sessionKey, requestKey, random);
        if (placed is null)
        {
            return new RoutingDecision(null, RoutingOutcome.NoBackend);
        }

        var pin = new CachedPin(placed.Id, Epoch: 0, placed.Backend.PinGeneration, now);
        pool.Pins.Set(sessionKey, pin);
        placed.Counter.Placed(); // this gateway's choice: count it until the next snapshot
        ConfirmInBackground(pool, sessionKey, pin);
        return new RoutingDecision(placed, RoutingOutcome.New, Hint(pin));
    }

    // guess: where the request goes if the grain does not answer in time; null when the grain may not create the session.
    private async ValueTask<RoutingDecision> ResolveWithGrainAsync(PoolRuntime pool, PoolView view, string sessionKey, string? requestKey, BackendEntry proposal, BackendEntry? guess, long started)
    {
        var mayCreate = guess is not null;

        // While the cluster is away (its pool grains miss reports, or no silo is connected) a wait could only use up the
        // budget: the request goes to the guess at once and the grain is asked in the background all the same, so a
        // session whose grain does answer is reconciled (moved once if its pin differs; a new one is pinned where its
        // first request went).
        var waitBudget = ClusterAway ? TimeSpan.Zero : _budget;
        var remaining = Max(waitBudget - time.GetElapsedTime(started), TimeSpan.Zero);

        // Past the budget the request goes to the guess, so a pin the grain makes that late must be the guess too, or
        // the session's first request and its pin disagree (the guess ignores load; the proposal does not). The grain
        // switches a little before this gateway stops waiting, so that an answer still in transit agrees as well.
        var fallback = guess is not null && guess.Id != proposal.Id
            ? new PinFallback(Ref(guess), time.GetUtcNow() + remaining - remaining / FallbackMarginDivisor)
            : null;
        var work = PinWithGrainAsync(pool, view, sessionKey, requestKey, proposal, fallback, mayCreate);
        try
        {
            return await work.WaitAsync(remaining, time);
        }
        catch (TimeoutException) when (!work.IsCompleted)
        {
            // The budget ran out (a grain call's own TimeoutException, e.g. Orleans', completes the work: handled below).
            LogSlowGrain(logger, pool.Name, waitBudget.TotalMilliseconds, guess?.Id ?? "(keyless)");
        }
        catch (Exception ex) when (ex is not ArgumentException)
        {
            // Failed fast (an ETag conflict after which the grain re-read its state, a store that lost its data, a silo
            // that just went away): one more try if the budget allows.
            var left = waitBudget - time.GetElapsedTime(started);
            if (left > TimeSpan.Zero)
            {
                work = PinWithGrainAsync(pool, view, sessionKey, requestKey, proposal, fallback, mayCreate);
                try
                {
                    return await work.WaitAsync(left, time);
                }
                catch (Exception retry) when (retry is not ArgumentException)
                {
                    LogGrainFailed(logger, pool.Name, guess?.Id ?? "(keyless)", retry);
                }
            }
            else
            {
                LogGrainFailed(logger, pool.Name, guess?.Id ?? "(keyless)", ex);
            }
        }

        ObserveInBackground(pool, sessionKey, work);
        if (guess is null)
        {
            return OverBudget(pool, view, requestKey);
        }

        // The guess: served now; the grain's answer, when it comes, replaces it in the cache (a real pin's epoch is
        // always above a guess's), so a different answer moves the session once.
        pool.Pins.CountGuess();
        if (!work.IsCompletedSuccessfully)
        {
            pool.Pins.Set(sessionKey, new CachedPin(guess.Id, Epoch: -1, guess.Backend.PinGeneration, DateTimeOffset.MinValue));
        }

        return new RoutingDecision(guess, RoutingOutcome.Provisional);
    }

    // The grain protocol: get-or-pin, then re-pin while the pinned backend is unusable in this gateway's view. Bounded by
    // ClusterCallTimeout, so work the request stopped waiting for ends by itself; every answer is offered to the cache.
    private async Task<RoutingDecision> PinWithGrainAsync(PoolRuntime pool, PoolView view, string sessionKey, string? requestKey, BackendEntry proposal, PinFallback? fallback, bool mayCreate)
    {
        using var timeout = new CancellationTokenSource(_callTimeout, time);
        var grain = grains.GetGrain<ISessionGrain>(GrainKeys.Session(pool.Name, sessionKey));
        var ttl = pool.Options.SessionTtl;
        PinResult result;
        if (mayCreate)
        {
            pool.Pins.CountGrainCall(SessionGrainCall.GetOrPin);
            result = await grain.GetOrPinAsync(Ref(proposal), ttl, fallback, timeout.Token).WaitAsync(timeout.Token);
        }
        else
        {
            pool.Pins.CountGrainCall(SessionGrainCall.Get);
            if (await grain.GetAsync().WaitAsync(timeout.Token) is not { } existing)
            {
                return OverBudget(pool, view, requestKey);
            }

            result = new PinResult(existing, PinOutcome.Existing);
        }

        var refreshed = false;
        for (var attempt = 0; ; attempt++)
        {
            var pin = result.Pin;
            var pinned = view.Find(pin.BackendId);
            if (pinned is null && !refreshed)
            {
                // A backend this view does not know: added moments ago, or removed. A fresh view tells which.
                view = await refresher.RefreshAsync(pool).WaitAsync(timeout.Token);
                refreshed = true;
                pinned = view.Find(pin.BackendId);
            }

            if (pinned is { KeepsSessions: true })
            {
                var entry = new CachedPin(pinned.Id, pin.Epoch, pinned.Backend.PinGeneration, time.GetUtcNow());
                pool.Pins.Offer(sessionKey, entry);
                if (result.Outcome is PinOutcome.Created or PinOutcome.Repinned && (pinned.Id == proposal.Id || pinned.Id == fallback?.Backend.Id))
                {
                    pinned.Counter.Placed(); // this gateway's choice: count it until the next snapshot
                }

                if (pin.BackendGeneration < entry.Generation && pinned.Id != proposal.Id)
                {
                    // Tell the grain this generation keeps sessions, so a gateway with an older view cannot move it.
                    ConfirmInBackground(pool, sessionKey, entry);
                }

                var outcome = attempt > 0 ? RoutingOutcome.Repinned : result.Outcome == PinOutcome.Created ? RoutingOutcome.New : RoutingOutcome.Pinned;
                return new RoutingDecision(pinned, outcome, Hint(entry));
            }

            var target = pool.Place(sessionKey, requestKey, random, excludedId: pin.BackendId);
            if (result.Outcome == PinOutcome.Refused || attempt == MaxRepinAttempts || target is null)
            {
                // The cluster says the pin stands (this view is behind), other gateways keep moving it, or nothing
                // else takes sessions: follow the cluster's pin when the backend is known at all, never one of our own.
                return pinned is not null ? new RoutingDecision(pinned, RoutingOutcome.Pinned) : new RoutingDecision(null, RoutingOutcome.NoBackend);
            }

            // Unusable here: seen not keeping sessions at its generation, or gone from a fresh view.
            var unusable = pinned?.Backend.PinGeneration ?? long.MaxValue;
            pool.Pins.CountGrainCall(SessionGrainCall.Repin);
            result = await grain.RepinAsync(pin.Epoch, unusable, Ref(target), ttl, fallback?.Backend.Id == target.Id ? null : fallback, timeout.Token).WaitAsync(timeout.Token);
            proposal = target;
        }
    }

    // Confirms a pin with its grain without holding up the request: extends the session's expiry cluster-wide, writes
    // a new session's pin or turns a guess into a real pin (or adopts the pin another gateway made meanwhile), records
    // the generation this gateway saw the backend keep sessions at, and picks up a pin that moved elsewhere. At most
    // one confirmation per key runs at a time; its answer never replaces a newer one.
    // Not while no silo is connected: the call could not be answered; a later request confirms the pin once one is.
    // paced: a routine confirmation of a pin that came due, which waits for the session's next request when the pace is
    // spent; a guess to reconcile, a new session's pin to write and a generation to record go at once.
    private void ConfirmInBackground(PoolRuntime pool, string sessionKey, CachedPin cached, bool paced = false)
    {
        if (connectivity.NoSiloConnected || pool.Pins.IsConfirming(sessionKey))
        {
            return;
        }

        if (paced && !pacer.TryTake())
        {
            pool.Pins.CountConfirmationDeferred();
            return;
        }

        if (pool.Pins.TryBeginConfirm(sessionKey))
        {
            _ = ConfirmAsync(pool, sessionKey, cached);
        }
    }

    private async Task ConfirmAsync(PoolRuntime pool, string sessionKey, CachedPin cached)
    {
        try
        {
            using var timeout = new CancellationTokenSource(_callTimeout, time);
            var grain = grains.GetGrain<ISessionGrain>(GrainKeys.Session(pool.Name, sessionKey));
            pool.Pins.CountGrainCall(SessionGrainCall.Confirm);
            var view = pool.View;
            var proposed = view.Find(cached.BackendId) is { KeepsSessions: true } backend ? Ref(backend) : new BackendRef(cached.BackendId, cached.Generation);
            var result = await grain.GetOrPinAsync(proposed, pool.Options.SessionTtl, cancellationToken: timeout.Token).WaitAsync(timeout.Token);
            if (pool.View.Find(result.Pin.BackendId) is { KeepsSessions: true } pinned)
            {
                pool.Pins.Offer(sessionKey, new CachedPin(pinned.Id, result.Pin.Epoch, pinned.Backend.PinGeneration, time.GetUtcNow()));
            }
            else
            {
                // The cluster's pin points at a backend this gateway cannot use: resolve afresh on the next request.
                pool.Pins.Remove(sessionKey, cached);
            }
        }
        catch (Exception ex)
        {
            LogConfirmFailed(logger, pool.Name, ex);
        }
        finally
        {
            pool.Pins.EndConfirm(sessionKey);
        }
    }

    // The call the request stopped waiting for counts as the session's confirmation while it runs, so the session's
    // next requests use the guess instead of waiting for the same grain again.
    private void ObserveInBackground(PoolRuntime pool, string sessionKey, Task work)
    {
        var confirming = pool.Pins.TryBeginConfirm(sessionKey);
        _ = work.ContinueWith(
            task =>
            {
                if (confirming)
                {
                    pool.Pins.EndConfirm(sessionKey);
                }

                if (task.IsFaulted)
                {
                    LogLateAnswerFailed(logger, task.Exception);
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static BackendRef Ref(BackendEntry backend) => new(backend.Id, backend.Backend.PinGeneration);

    private static PinHint Hint(CachedPin pin) => new(pin.BackendId, pin.Generation, pin.ConfirmedAt);

    // 4001 and 4003 happen per request while the cluster is slow or down, which is exactly when the request path must
    // stay cheap: formatting an exception's stack trace (the first one loads symbol files: hundreds of ms, seen as a
    // burst of late decisions in the compound chaos test) and console I/O on every request. They are Debug; operators
    // see the episode in `distributed.gateway.pin.guesses` and in the degraded-connectivity log lines (2003/2004).
    [LoggerMessage(EventId = 4001, Level = LogLevel.Debug, Message = "Pool {Pool}: session grain did not answer within {BudgetMs} ms; routed by the guess {Backend}, its answer is taken in the background.")]
    private static partial void LogSlowGrain(ILogger logger, string pool, double budgetMs, string backend);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Debug, Message = "Pool {Pool}: session grain call failed; routed by the guess {Backend}.")]
    private static partial void LogGrainFailed(ILogger logger, string pool, string backend, Exception exception);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Debug, Message = "Pool {Pool}: background confirmation of a pin failed; the pin stays in use.")]
    private static partial void LogConfirmFailed(ILogger logger, string pool, Exception exception);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Warning, Message = "Pool {Pool}: the view is older than a report lease and could not be refreshed in time; routing from it.")]
    private static partial void LogStaleView(ILogger logger, string pool, Exception exception);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Debug, Message = "A session grain answer the request stopped waiting for failed; the guess stays until the next confirmation.")]
    private static partial void LogLateAnswerFailed(ILogger logger, Exception exception);
}
