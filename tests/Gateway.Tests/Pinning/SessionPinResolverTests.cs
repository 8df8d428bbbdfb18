using Distributed.Gateway.Pinning;
using Distributed.Gateway.Pools;
using Distributed.Gateway.SessionKeys;
using Distributed.Gateway.Tests.Fakes;
using static Distributed.Gateway.Tests.Fakes.GatewayHarness;

namespace Distributed.Gateway.Tests.Pinning;

[Trait("Category", "Unit")]
public sealed class SessionPinResolverTests : IDisposable
{
    private readonly GatewayHarness _gateway = new();

    public void Dispose() => _gateway.Dispose();

    private ValueTask<RoutingDecision> Resolve(string key, PinHint? hint = null) =>
        _gateway.Resolver.ResolveAsync(_gateway.Pool, hint is null ? SessionKeyResult.Existing(key) : SessionKeyResult.Existing(key, hint, renew: false));

    [Fact]
    public async Task ResolveAsync_CacheMiss_AsksTheGrainWithThePlacementAndCachesItsAnswer()
    {
        var key = _gateway.KeyPlacedOn("b2");

        var first = await Resolve(key);
        var second = await Resolve(key);

        Assert.Equal((RoutingOutcome.New, "b2"), (first.Outcome, first.Backend!.Id));
        Assert.Equal((RoutingOutcome.Pinned, "b2"), (second.Outcome, second.Backend!.Id));
        Assert.Equal([$"get_or_pin b2@{Generation}"], _gateway.Session(key).Calls);
        Assert.Equal(1, _gateway.Pool.Pins.Hits);
    }

    [Fact]
    public async Task ResolveAsync_ExistingPinElsewhere_FollowsTheGrain()
    {
        var key = _gateway.KeyPlacedOn("b1");
        _gateway.Session(key).Pin("b3", epoch: 4, generation: Generation);

        var decision = await Resolve(key);

        Assert.Equal((RoutingOutcome.Pinned, "b3"), (decision.Outcome, decision.Backend!.Id));
        Assert.Equal(new CachedPin("b3", 4, Generation, _gateway.Time.GetUtcNow()), _gateway.Pool.Pins.Get(key));
    }

    [Fact]
    public async Task ResolveAsync_GrainSlowerThanTheBudget_RoutesByThePlacementAtTheBudgetAndTakesTheAnswerLater()
    {
        var key = _gateway.KeyPlacedOn("b1");
        var grain = _gateway.Session(key);
        grain.Pin("b3", epoch: 2, generation: Generation); // the rare session placed past its first choice
        grain.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var pending = Resolve(key);
        _gateway.Time.Advance(TimeSpan.FromMilliseconds(249));
        Assert.False(pending.IsCompleted);
        _gateway.Time.Advance(TimeSpan.FromMilliseconds(1));
        var guessed = await pending;

        Assert.Equal((RoutingOutcome.Provisional, "b1"), (guessed.Outcome, guessed.Backend!.Id));
        Assert.Null(guessed.Pin); // a guess is never handed to a cookie
        Assert.Equal(1, _gateway.Pool.Pins.Guesses);

        // The grain answers late: the session moves to its real pin once, and stays there without another call.
        grain.Hold.SetResult();
        await EventuallyAsync(() => _gateway.Pool.Pins.Get(key)?.BackendId == "b3", "the late answer to reach the cache");
        var calls = grain.Calls.Count;
        Assert.Equal("b3", (await Resolve(key)).Backend!.Id);
        Assert.Equal("b3", (await Resolve(key)).Backend!.Id);
        Assert.Equal(calls, grain.Calls.Count);
    }

    [Fact]
    public async Task ResolveAsync_NewSessionWhoseGrainAnswersPastTheBudget_IsPinnedWhereItsFirstRequestWent()
    {
        // b1 is busy: placement (bounded loads) sends a new session whose first choice is b1 elsewhere, while the guess,
        // which every gateway must compute alike, ignores load and says b1. The grain is slow (a loaded silo or store).
        var key = _gateway.KeyPlacedOn("b1");
        _gateway.Adopt(Backend("b1", inFlight: 60), Backend("b2"), Backend("b3"));
        var placed = _gateway.Placed(key);
        Assert.NotEqual("b1", placed);
        var grain = _gateway.Session(key);
        grain.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var pending = Resolve(key);
        _gateway.Time.Advance(TimeSpan.FromMilliseconds(250));
        var first = await pending;
        Assert.Equal((RoutingOutcome.Provisional, "b1"), (first.Outcome, first.Backend!.Id));

        // The grain creates the pin after the request went to the guess: the pin is the guess, so the session stays.
        grain.Hold.SetResult();
        await EventuallyAsync(() => _gateway.Pool.Pins.Get(key) is { Epoch: > 0 }, "the late answer to reach the cache");
        Assert.Equal("b1", grain.Current!.BackendId);
        Assert.Equal((RoutingOutcome.Pinned, "b1"), ((await Resolve(key)).Outcome, (await Resolve(key)).Backend!.Id));
        Assert.Equal([$"get_or_pin {placed}@{Generation} late b1"], grain.Calls);
    }

    [Theory]
    [InlineData(100, false)] // answered well within the budget: load-aware placement stands
    [InlineData(220, true)] // answered within the budget but so late that the answer could cross the gateway's timeout
    public async Task ResolveAsync_NewSessionAnsweredWithinTheBudget_IsServedWhereTheGrainPinnedIt(int answeredAtMs, bool pinsTheGuess)
    {
        var key = _gateway.KeyPlacedOn("b1");
        _gateway.Adopt(Backend("b1", inFlight: 60), Backend("b2"), Backend("b3"));
        var placed = _gateway.Placed(key);
        var grain = _gateway.Session(key);
        grain.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var pending = Resolve(key);
        _gateway.Time.Advance(TimeSpan.FromMilliseconds(answeredAtMs));
        grain.Hold.SetResult();
        var decision = await pending;

        var pinned = pinsTheGuess ? "b1" : placed;
        Assert.Equal((RoutingOutcome.New, pinned), (decision.Outcome, decision.Backend!.Id));
        Assert.Equal(pinned, grain.Current!.BackendId);
    }

    [Fact]
    public async Task ResolveAsync_BudgetIsForEveryCallTogether_ARepinAfterASlowAnswerStillEndsAtTheBudget()
    {
        var key = _gateway.KeyPlacedOn("b1");
        var grain = _gateway.Session(key);
        grain.Pin("b2", epoch: 1, generation: 1); // pinned to b2, which this gateway sees stopped keeping sessions
        _gateway.Adopt(Backend("b1"), Backend("b2", generation: Generation + 1, keepsSessions: false, acceptsNew: false), Backend("b3"));
        grain.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var pending = Resolve(key);
        _gateway.Time.Advance(TimeSpan.FromMilliseconds(200));
        var firstAnswer = grain.Hold;
        grain.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously); // the re-pin will wait
        firstAnswer.SetResult();
        await EventuallyAsync(() => grain.Calls.Count == 2, "the re-pin to be sent");
        Assert.False(pending.IsCompleted);
        _gateway.Time.Advance(TimeSpan.FromMilliseconds(50));

        var decision = await pending;
        Assert.Equal((RoutingOutcome.Provisional, "b1"), (decision.Outcome, decision.Backend!.Id));
        grain.Hold.SetResult();
    }

    [Fact]
    public async Task ResolveAsync_GrainFailsFast_TriesOnceMoreWithinTheBudget()
    {
        var key = _gateway.KeyPlacedOn("b2");
        _gateway.Session(key).FailNext = 1;

        var decision = await Resolve(key);

        Assert.Equal((RoutingOutcome.New, "b2"), (decision.Outcome, decision.Backend!.Id));
        Assert.Equal(2, _gateway.Session(key).Calls.Count);
        Assert.Equal(0, _gateway.Pool.Pins.Guesses);
    }

    [Fact]
    public async Task ResolveAsync_OneSlowSession_DoesNotMakeOtherSessionsGuess()
    {
        // Degraded mode is per call: a stuck grain costs its own request the budget, nobody else anything.
        var slow = _gateway.KeyPlacedOn("b1", "slow");
        _gateway.Session(slow).Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pending = Resolve(slow);
        _gateway.Time.Advance(TimeSpan.FromMilliseconds(250));
        Assert.Equal(RoutingOutcome.Provisional, (await pending).Outcome);

        var other = _gateway.KeyPlacedOn("b3", "other");
        _gateway.Session(other).Pin("b2", epoch: 3, generation: Generation);
        var decision = await Resolve(other);

        Assert.Equal((RoutingOutcome.Pinned, "b2"), (decision.Outcome, decision.Backend!.Id));
        Assert.False(_gateway.Connectivity.IsDegraded);
        _gateway.Session(slow).Hold!.SetResult();
    }

    [Fact]
    public async Task ResolveAsync_CachedPinWhoseGenerationMoved_ProposesTheCachedBackendSoALostPinComesBackThere()
    {
        // The store lost the pin (Redis restarted empty) while the backend merely flapped: the grain pins the proposal,
        // which must be where the session was, not where placement would put a new one.
        var key = _gateway.KeyPlacedOn("b1");
        _gateway.Pool.Pins.Set(key, new CachedPin("b3", 5, Generation, _gateway.Time.GetUtcNow()));
        _gateway.Adopt(Backend("b1"), Backend("b2"), Backend("b3", generation: Generation + 2));

        var decision = await Resolve(key);

        Assert.Equal("b3", decision.Backend!.Id);
        Assert.Equal([$"get_or_pin b3@{Generation + 2}"], _gateway.Session(key).Calls);
    }

    [Fact]
    public async Task ResolveAsync_ReRepinRefusedBecauseThisViewIsStale_FollowsTheClusterPinWithoutCachingIt()
    {
        // This gateway still sees b2 ejected (generation 1001); another confirmed it keeping sessions at 1002 since.
        var key = _gateway.KeyPlacedOn("b1");
        var grain = _gateway.Session(key);
        grain.Pin("b2", epoch: 6, generation: Generation + 2);
        _gateway.Adopt(Backend("b1"), Backend("b2", generation: Generation + 1, keepsSessions: false, acceptsNew: false), Backend("b3"));

        var decision = await Resolve(key);

        Assert.Equal((RoutingOutcome.Pinned, "b2"), (decision.Outcome, decision.Backend!.Id));
        Assert.Equal(("b2", 6L), (grain.Current!.BackendId, grain.Current.Epoch));
        Assert.Contains(grain.Calls, c => c.StartsWith("repin b1", StringComparison.Ordinal) && c.EndsWith($"unusable@{Generation + 1}", StringComparison.Ordinal));
        Assert.Null(_gateway.Pool.Pins.Get(key));
    }

    [Fact]
    public async Task ResolveAsync_PinnedBackendUnusableForEveryone_RepinsOnceToThePlacement()
    {
        var key = _gateway.KeyPlacedOn("b1");
        var grain = _gateway.Session(key);
        grain.Pin("b2", epoch: 6, generation: Generation);
        _gateway.Adopt(Backend("b1"), Backend("b2", generation: Generation + 1, keepsSessions: false, acceptsNew: false), Backend("b3"));

        var decision = await Resolve(key);

        Assert.Equal((RoutingOutcome.Repinned, "b1"), (decision.Outcome, decision.Backend!.Id));
        Assert.Equal(("b1", 7L), (grain.Current!.BackendId, grain.Current.Epoch));
    }

    [Fact]
    public async Task ResolveAsync_PinToABackendThisViewDoesNotKnowYet_RefreshesTheViewInsteadOfMovingIt()
    {
        var key = _gateway.KeyPlacedOn("b1");
        _gateway.Session(key).Pin("b4", epoch: 2, generation: Generation);
        var pool = _gateway.Grains.Pool(PoolName);
        pool.Snapshot = Snapshot(Backend("b1"), Backend("b2"), Backend("b3"), Backend("b4")); // added a moment ago

        var decision = await Resolve(key);

        Assert.Equal((RoutingOutcome.Pinned, "b4"), (decision.Outcome, decision.Backend!.Id));
        Assert.Equal(1, pool.SnapshotCalls);
        Assert.DoesNotContain(_gateway.Session(key).Calls, c => c.StartsWith("repin", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ResolveAsync_PinToABackendGoneFromAFreshView_RepinsAsRemoved()
    {
        var key = _gateway.KeyPlacedOn("b1");
        var grain = _gateway.Session(key);
        grain.Pin("b9", epoch: 2, generation: long.MaxValue - 1);

        var decision = await Resolve(key);

        Assert.Equal((RoutingOutcome.Repinned, "b1"), (decision.Outcome, decision.Backend!.Id));
        Assert.Contains(grain.Calls, c => c.EndsWith($"unusable@{long.MaxValue}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ResolveAsync_CookieNamesAUsablePin_RoutesThereWithoutTheCluster()
    {
        var key = _gateway.KeyPlacedOn("b1");
        _gateway.Grains.Pool(PoolName).Unreachable = true;
        _gateway.Session(key).Hold = new TaskCompletionSource(); // the cluster is gone: nothing answers

        var decision = await Resolve(key, new PinHint("b3", Generation, _gateway.Time.GetUtcNow() - TimeSpan.FromMinutes(1)));

        Assert.Equal((RoutingOutcome.Pinned, "b3"), (decision.Outcome, decision.Backend!.Id));
        Assert.True(decision.Backend is not null);
        Assert.Empty(_gateway.Session(key).Calls);
    }

    [Fact]
    public async Task ResolveAsync_CookieOfAnOlderGeneration_AsksTheGrainProposingTheCookiesBackend()
    {
        var key = _gateway.KeyPlacedOn("b1");

        var decision = await Resolve(key, new PinHint("b3", Generation - 1, _gateway.Time.GetUtcNow()));

        Assert.Equal("b3", decision.Backend!.Id);
        Assert.Equal([$"get_or_pin b3@{Generation}"], _gateway.Session(key).Calls);
    }

    [Fact]
    public async Task ResolveAsync_NewCookieSession_IsPlacedAtOnceAndPinnedBehindTheResponse()
    {
        var key = SessionCookieProtector.NewId();
        var grain = _gateway.Session(key);
        grain.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var pending = _gateway.Resolver.ResolveAsync(_gateway.Pool, SessionKeyResult.Minted(key));

        Assert.True(pending.IsCompletedSuccessfully); // no wait for the cluster
        var decision = await pending;
        Assert.Equal((RoutingOutcome.New, _gateway.Placed(key)), (decision.Outcome, decision.Backend!.Id));
        Assert.Equal(decision.Backend.Id, decision.Pin?.BackendId);

        // The session's next request, its cookie in hand, while the write is still in flight: no wait, no second call.
        var next = _gateway.Resolver.ResolveAsync(_gateway.Pool, SessionKeyResult.Existing(key, decision.Pin, renew: false));
        Assert.True(next.IsCompletedSuccessfully);
        var again = await next;
        Assert.Equal((RoutingOutcome.Pinned, decision.Backend.Id), (again.Outcome, again.Backend!.Id));

        grain.Hold.SetResult();
        await EventuallyAsync(() => grain.Current?.BackendId == decision.Backend.Id, "the pin written behind the response");
        await EventuallyAsync(() => _gateway.Pool.Pins.Get(key)?.Epoch == 1, "the written pin to reach the cache");
        Assert.Equal([$"get_or_pin {decision.Backend.Id}@{Generation}"], grain.Calls); // one grain call for a first visit
    }

    [Fact]
    public async Task ConfirmAsync_LateAnswer_NeverReplacesANewerCachedPin()
    {
        var key = _gateway.KeyPlacedOn("b1");
        var grain = _gateway.Session(key);
        grain.Pin("b1", epoch: 5, generation: Generation);
        var stale = new CachedPin("b1", 5, Generation, _gateway.Time.GetUtcNow() - _gateway.Pool.Pins.ConfirmInterval);
        _gateway.Pool.Pins.Set(key, stale);
        grain.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        Assert.Equal("b1", (await Resolve(key)).Backend!.Id); // due: a confirmation starts in the background
        var newer = new CachedPin("b2", 6, Generation, _gateway.Time.GetUtcNow());
        _gateway.Pool.Pins.Set(key, newer); // meanwhile a re-pin by this gateway
        grain.Hold.SetResult();
        await EventuallyAsync(() => grain.Calls.Count == 1 && _gateway.Pool.Pins.TryBeginConfirm(key), "the confirmation to finish");

        Assert.Same(newer, _gateway.Pool.Pins.Get(key));
    }

    [Fact]
    public async Task ResolveAsync_ManyPinsDueAtOnce_ConfirmsNoFasterThanThePaceAndServesEveryRequestFromTheCache()
    {
        // A gateway idle while its pins came due meets them all with its first requests: at most a tenth of a second's
        // pace is confirmed at once, the rest wait for their sessions' next requests, and no request waits for either.
        using var gateway = new GatewayHarness(configure: o => (o.PinCache.MaxEntries, o.PinCache.MaxConfirmationsPerSecond) = (1_000, 100));
        var due = gateway.Time.GetUtcNow() - gateway.Pool.Pins.ConfirmInterval;
        var keys = Enumerable.Range(0, 300).Select(i => $"idle-{i}").ToList();
        foreach (var key in keys)
        {
            gateway.Pool.Pins.Set(key, new CachedPin("b2", 3, Generation, due));
        }

        foreach (var key in keys)
        {
            var pending = gateway.Resolver.ResolveAsync(gateway.Pool, SessionKeyResult.Existing(key));
            Assert.True(pending.IsCompletedSuccessfully);
            var decision = await pending;
            Assert.Equal((RoutingOutcome.Pinned, "b2"), (decision.Outcome, decision.Backend!.Id));
        }

        // 10 a tenth of a second; a slow machine may cross one refill while it resolves the 300.
        var confirmed = gateway.Pool.Pins.GrainCalls(SessionGrainCall.Confirm);
        Assert.InRange(confirmed, 10, 20);
        Assert.Equal(300 - confirmed, gateway.Pool.Pins.ConfirmationsDeferred);

        // A guess to reconcile is not a routine confirmation: served while the cluster is away, it is confirmed at once,
        // pace spent or not.
        var guessed = keys[^1];
        gateway.Pool.Pins.Set(guessed, new CachedPin("b2", Epoch: -1, Generation, DateTimeOffset.MinValue));
        gateway.Connectivity.ReportFailed(PoolName);
        gateway.Connectivity.ReportFailed(PoolName);
        while (gateway.Pacer.TryTake())
        {
        }

        Assert.Equal(RoutingOutcome.Pinned, (await gateway.Resolver.ResolveAsync(gateway.Pool, SessionKeyResult.Existing(guessed))).Outcome);
        Assert.Equal(confirmed + 1, gateway.Pool.Pins.GrainCalls(SessionGrainCall.Confirm));
    }

    [Fact]
    public async Task ResolveAsync_ProvisionalPin_IsUsedAndReconciledWithoutAnotherWait()
    {
        var key = _gateway.KeyPlacedOn("b2");
        var grain = _gateway.Session(key);
        grain.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pending = Resolve(key);
        _gateway.Time.Advance(TimeSpan.FromMilliseconds(250));
        Assert.Equal(RoutingOutcome.Provisional, (await pending).Outcome);

        var again = Resolve(key); // the guess is cached: no second wait while the grain is still stuck
        Assert.True(again.IsCompletedSuccessfully);
        Assert.Equal("b2", (await again).Backend!.Id);
        grain.Hold.SetResult();
        await EventuallyAsync(() => _gateway.Pool.Pins.Get(key)?.Epoch == 1, "the grain's answer to replace the guess");
        Assert.Equal("b2", grain.Current!.BackendId); // the session was created where it was guessed
    }

    [Fact]
    public async Task ResolveAsync_GuessCachedDuringAnOutage_IsUsedWhileTheClusterIsAwayAndCheckedOnceItIsBack()
    {
        // The session lives on b3, past its first choice; its grain cannot answer (every silo down), so a cold gateway
        // serves the guess, b1, and caches it.
        var key = _gateway.KeyPlacedOn("b1");
        var grain = _gateway.Session(key);
        grain.Pin("b3", epoch: 2, generation: Generation);
        grain.FailNext = 2;
        Assert.Equal((RoutingOutcome.Provisional, "b1"), ((await Resolve(key)).Outcome, _gateway.Pool.Pins.Get(key)!.BackendId));

        // While the cluster is known to be away the guess is used without waiting (fail-static).
        _gateway.Connectivity.ReportFailed(PoolName);
        _gateway.Connectivity.ReportFailed(PoolName);
        grain.FailNext = 1; // the background confirmation fails too
        Assert.Equal("b1", (await Resolve(key)).Backend!.Id);
        await EventuallyAsync(() => grain.FailNext == 0, "the confirmation to be tried");

        // The cluster is back: the guess is not served again as if it were a pin; the grain is asked, within the budget.
        _gateway.Connectivity.ReportSucceeded(PoolName);
        var back = await Resolve(key);
        Assert.Equal((RoutingOutcome.Pinned, "b3"), (back.Outcome, back.Backend!.Id));
    }

    [Fact]
    public async Task ResolveAsync_NoSiloConnected_RoutesByTheGuessAtOnceAndTakesTheGrainsAnswerWhenItComes()
    {
        // Every silo is gone and the client says so, before any load report has failed: waiting could only use up the
        // budget. The session lives on b3, past its first choice b1; its grain cannot answer yet.
        var key = _gateway.KeyPlacedOn("b1");
        var grain = _gateway.Session(key);
        grain.Pin("b3", epoch: 2, generation: Generation);
        grain.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _gateway.Connectivity.SiloConnectionsChanged(0);

        var pending = Resolve(key);
        Assert.True(pending.IsCompletedSuccessfully); // no wait, not even for the budget's timer
        var guessed = await pending;
        Assert.Equal((RoutingOutcome.Provisional, "b1"), (guessed.Outcome, guessed.Backend!.Id));
        var again = await Resolve(key); // the cached guess, while there is still no silo to ask
        Assert.Equal((RoutingOutcome.Pinned, "b1"), (again.Outcome, again.Backend!.Id));
        Assert.Equal(1, _gateway.Pool.Pins.Guesses);

        // The grain was asked all the same; its answer, once a silo is back, moves the session to its pin, once.
        _gateway.Connectivity.SiloConnectionsChanged(1);
        grain.Hold.SetResult();
        await EventuallyAsync(() => _gateway.Pool.Pins.Get(key)?.BackendId == "b3", "the grain's answer to reach the cache");
        Assert.Equal("b3", (await Resolve(key)).Backend!.Id);
        Assert.Single(grain.Calls);
    }

    [Fact]
    public async Task ResolveAsync_ClusterAway_NewSessionIsPinnedWhereItsFirstRequestWent()
    {
        // b1 is busy, so load-aware placement would put the session elsewhere; with the cluster away its first request
        // goes to the guess, b1, at once, and the grain, reached later, pins what was served.
        var key = _gateway.KeyPlacedOn("b1");
        _gateway.Adopt(Backend("b1", inFlight: 60), Backend("b2"), Backend("b3"));
        Assert.NotEqual("b1", _gateway.Placed(key));
        var grain = _gateway.Session(key);
        grain.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _gateway.Connectivity.ReportFailed(PoolName);
        _gateway.Connectivity.ReportFailed(PoolName);

        var pending = Resolve(key);
        Assert.True(pending.IsCompletedSuccessfully);
        Assert.Equal("b1", (await pending).Backend!.Id);

        grain.Hold.SetResult();
        await EventuallyAsync(() => _gateway.Pool.Pins.Get(key) is { Epoch: > 0 }, "the grain's answer to reach the cache");
        Assert.Equal("b1", grain.Current!.BackendId);
        _gateway.Connectivity.ReportSucceeded(PoolName);
        var pinned = await Resolve(key);
        Assert.Equal((RoutingOutcome.Pinned, "b1"), (pinned.Outcome, pinned.Backend!.Id));
    }

    [Fact]
    public async Task ResolveAsync_ViewOlderThanALeaseAfterAPause_CatchesUpBeforeUsingACachedPin()
    {
        // This gateway was paused (SIGSTOP, a long GC) while b2 flapped and another gateway moved the session to b3.
        var key = _gateway.KeyPlacedOn("b2");
        _gateway.Pool.Pins.Set(key, new CachedPin("b2", 1, Generation, _gateway.Time.GetUtcNow()));
        _gateway.Session(key).Pin("b3", epoch: 2, generation: Generation);
        _gateway.Grains.Pool(PoolName).Snapshot = Snapshot(Backend("b1"), Backend("b2", generation: Generation + 2), Backend("b3"));
        _gateway.Time.Advance(TimeSpan.FromSeconds(3)); // no report ran meanwhile, none failed

        var decision = await Resolve(key);

        Assert.Equal("b3", decision.Backend!.Id);
        Assert.Equal(Generation + 2, _gateway.Pool.View.Find("b2")!.Backend.PinGeneration);
    }

    [Fact]
    public async Task ResolveAsync_ViewOldBecauseTheClusterIsUnreachable_RoutesFromItWithoutWaiting()
    {
        var key = _gateway.KeyPlacedOn("b2");
        _gateway.Pool.Pins.Set(key, new CachedPin("b2", 1, Generation, _gateway.Time.GetUtcNow()));
        _gateway.Connectivity.ReportFailed(PoolName);
        _gateway.Connectivity.ReportFailed(PoolName);
        _gateway.Grains.Pool(PoolName).Unreachable = true;
        _gateway.Time.Advance(TimeSpan.FromMinutes(1));

        var pending = Resolve(key);

        Assert.True(pending.IsCompletedSuccessfully); // fail-static: no wait for a cluster known to be away
        Assert.Equal("b2", (await pending).Backend!.Id);
        Assert.Equal(0, _gateway.Grains.Pool(PoolName).SnapshotCalls);
    }

    [Fact]
    public async Task ResolveAsync_ClientPastItsBudgetOfNewSessions_GetsKeylessRoutingWhileKnownSessionsStaySticky()
    {
        using var gateway = new GatewayHarness(sessionKey: "Cookie:dist", configure: o => (o.NewSessions.PerClientPerSecond, o.NewSessions.PerClientBurst) = (0.001, 3));
        var client = System.Net.IPAddress.Parse("203.0.113.7");
        var decisions = new List<RoutingDecision>();
        for (var i = 0; i < 10; i++)
        {
            decisions.Add(await gateway.Resolver.ResolveAsync(gateway.Pool, SessionKeyResult.Minted(SessionCookieProtector.NewId()), client));
        }

        Assert.Equal(3, decisions.Count(d => d.Outcome == RoutingOutcome.New));
        Assert.All(decisions.Skip(3), d => Assert.True(d is { Outcome: RoutingOutcome.Keyless, Pin: null, Backend: not null }));
        Assert.Equal(7, gateway.Pool.Pins.OverBudget);
        Assert.Equal(3, gateway.Pool.Pins.Count); // nothing cached for the refused ones

        var other = await gateway.Resolver.ResolveAsync(gateway.Pool, SessionKeyResult.Minted(SessionCookieProtector.NewId()), System.Net.IPAddress.Parse("203.0.113.8"));
        Assert.Equal(RoutingOutcome.New, other.Outcome); // budgets are per client
    }

    [Fact]
    public async Task ResolveAsync_UnknownHeaderKeyPastTheBudget_OnlyAsksWhetherItExistsAndNeverCreatesIt()
    {
        using var gateway = new GatewayHarness(configure: o => (o.NewSessions.PerClientPerSecond, o.NewSessions.PerClientBurst) = (0.001, 1));
        var client = System.Net.IPAddress.Parse("203.0.113.9");
        Assert.Equal(RoutingOutcome.New, (await gateway.Resolver.ResolveAsync(gateway.Pool, SessionKeyResult.Existing("first"), client)).Outcome);

        var existing = gateway.KeyPlacedOn("b1", "known");
        gateway.Session(existing).Pin("b3", epoch: 9, generation: Generation);
        var known = await gateway.Resolver.ResolveAsync(gateway.Pool, SessionKeyResult.Existing(existing), client);
        var unknown = await gateway.Resolver.ResolveAsync(gateway.Pool, SessionKeyResult.Existing("made-up"), client);

        Assert.Equal((RoutingOutcome.Pinned, "b3"), (known.Outcome, known.Backend!.Id));
        Assert.Equal(RoutingOutcome.Keyless, unknown.Outcome);
        Assert.Null(gateway.Session("made-up").Current);
        Assert.Equal(["get"], gateway.Session("made-up").Calls);
    }
}
