using System.Globalization;
using Distributed.Grains.Abstractions;
using Distributed.Grains.Sessions;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Metadata;

namespace Distributed.Grains.Tests.Sessions;

[Trait("Category", "Grains")]
public sealed class SessionGrainTests(GrainClusterFixture cluster) : IClassFixture<GrainClusterFixture>
{
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(10);

    // A view in which the pinned backend stopped keeping sessions after every generation the tests confirm at.
    private const long Stopped = 1;

    private ISessionGrain NewSession() => cluster.Client.GetGrain<ISessionGrain>(SessionGrainKey.For("web", Guid.NewGuid().ToString("N")));

    private static BackendRef B(string id, long generation = 0) => new(id, generation);

    [Fact]
    public async Task GetOrPinAsync_ConcurrentCallersProposingDifferentBackends_AllGetOnePin()
    {
        var session = NewSession();
        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => session.GetOrPinAsync(B($"b{i % 5}"), Ttl)));

        Assert.Single(results.Select(r => r.Pin.BackendId).Distinct());
        Assert.Single(results.Select(r => r.Pin.Epoch).Distinct());
        var created = Assert.Single(results, r => r.Outcome == PinOutcome.Created);
        Assert.Equal(49, results.Count(r => r.Outcome == PinOutcome.Existing));

        // First writer wins: the pin is what the creating caller proposed, and later proposals never overwrite it.
        Assert.Equal($"b{Array.IndexOf(results, created) % 5}", created.Pin.BackendId);
    }

    [Fact]
    public async Task GetOrPinAsync_FallbackDue_PinsTheFallbackAndALivePinIgnoresIt()
    {
        var now = cluster.Time.GetUtcNow();
        var early = NewSession();
        var late = NewSession();

        // The caller's request waits until now + 1 s (early) or went to its fallback a moment ago (late).
        Assert.Equal("b2", (await early.GetOrPinAsync(B("b2"), Ttl, new PinFallback(B("b1"), now.AddSeconds(1)))).Pin.BackendId);
        var created = await late.GetOrPinAsync(B("b2"), Ttl, new PinFallback(B("b1", generation: 7), now));
        Assert.Equal((PinOutcome.Created, "b1", 7L), (created.Outcome, created.Pin.BackendId, created.Pin.BackendGeneration));

        // A live pin is never moved by a fallback: it only decides where a pin made late goes.
        var existing = await late.GetOrPinAsync(B("b3"), Ttl, new PinFallback(B("b2"), now));
        Assert.Equal((PinOutcome.Existing, "b1"), (existing.Outcome, existing.Pin.BackendId));
    }

    [Fact]
    public async Task RepinAsync_FallbackDue_MovesThePinToTheFallback()
    {
        var session = NewSession();
        var first = await session.GetOrPinAsync(B("b1"), Ttl);

        var moved = await session.RepinAsync(first.Pin.Epoch, Stopped, B("b2"), Ttl, new PinFallback(B("b3"), cluster.Time.GetUtcNow()));

        Assert.Equal((PinOutcome.Repinned, "b3"), (moved.Outcome, moved.Pin.BackendId));
    }

    [Fact]
    public async Task GetOrPinAsync_FallbackWithoutBackend_IsRejectedAndPinsNothing()
    {
        var session = NewSession();

        await Assert.ThrowsAsync<ArgumentException>(() => session.GetOrPinAsync(B("b1"), Ttl, new PinFallback(B(" "), cluster.Time.GetUtcNow())));
        Assert.Null(await session.GetAsync());
    }

    [Fact]
    public async Task RepinAsync_TwoCallersWithTheSameExpectedEpoch_OneWinsTheOtherGetsTheWinner()
    {
        var session = NewSession();
        var first = await session.GetOrPinAsync(B("b1"), Ttl);

        var results = await Task.WhenAll(
            session.RepinAsync(first.Pin.Epoch, Stopped, B("b2"), Ttl),
            session.RepinAsync(first.Pin.Epoch, Stopped, B("b3"), Ttl));

        var winner = Assert.Single(results, r => r.Outcome == PinOutcome.Repinned);
        var loser = Assert.Single(results, r => r.Outcome == PinOutcome.Conflict);
        Assert.Equal(winner.Pin, loser.Pin);
        Assert.Equal(first.Pin.Epoch + 1, winner.Pin.Epoch);
        Assert.Equal(winner.Pin.BackendId, (await session.GetAsync())!.BackendId);
    }

    [Fact]
    public async Task RepinAsync_StaleEpoch_IsAConflictAndChangesNothing()
    {
        var session = NewSession();
        var first = await session.GetOrPinAsync(B("b1"), Ttl);
        var moved = await session.RepinAsync(first.Pin.Epoch, Stopped, B("b2"), Ttl);

        var stale = await session.RepinAsync(first.Pin.Epoch, Stopped, B("b3"), Ttl);

        Assert.Equal(PinOutcome.Conflict, stale.Outcome);
        Assert.Equal("b2", stale.Pin.BackendId);
        Assert.Equal(moved.Pin.Epoch, stale.Pin.Epoch);
    }

    [Fact]
    public async Task RepinAsync_FromAViewOlderThanAConfirmationOfTheBackend_IsRefusedAndANewerOneMovesIt()
    {
        var session = NewSession();
        var first = await session.GetOrPinAsync(B("b1", generation: 10), Ttl);
        Assert.Equal(10, first.Pin.BackendGeneration);
        var confirmed = await session.GetOrPinAsync(B("b1", generation: 30), Ttl); // b1 flapped and keeps sessions again
        Assert.Equal(30, confirmed.Pin.BackendGeneration);
        await session.GetOrPinAsync(B("b2", generation: 99), Ttl); // another backend's generation says nothing about b1
        Assert.Equal(30, (await session.GetAsync())!.BackendGeneration);

        var stale = await session.RepinAsync(first.Pin.Epoch, unusableGeneration: 20, B("b2"), Ttl); // saw b1 stop at 20
        Assert.Equal(PinOutcome.Refused, stale.Outcome);
        Assert.Equal(("b1", first.Pin.Epoch), (stale.Pin.BackendId, stale.Pin.Epoch));

        var fresh = await session.RepinAsync(first.Pin.Epoch, unusableGeneration: 31, B("b2", generation: 5), Ttl);
        Assert.Equal(PinOutcome.Repinned, fresh.Outcome);
        Assert.Equal(("b2", 5L), (fresh.Pin.BackendId, fresh.Pin.BackendGeneration));
    }

    [Fact]
    public async Task RepinAsync_AfterTheActivationLeftMemory_StillRefusesAViewOlderThanTheConfirmation()
    {
        var session = NewSession();
        var first = await session.GetOrPinAsync(B("b1", generation: 10), Ttl);
        await session.GetOrPinAsync(B("b1", generation: 30), Ttl); // recorded in memory, stored on deactivation

        await CollectAsync(session);

        Assert.Equal(PinOutcome.Refused, (await session.RepinAsync(first.Pin.Epoch, unusableGeneration: 20, B("b2"), Ttl)).Outcome);
        Assert.Equal(PinOutcome.Repinned, (await session.RepinAsync(first.Pin.Epoch, unusableGeneration: long.MaxValue, B("b2"), Ttl)).Outcome); // removed from the pool
    }

    [Fact]
    public async Task GetOrPinAsync_StoreFailsTheWrite_CallFailsAndNoPinIsKept()
    {
        var session = NewSession();
        using (cluster.SessionStorage.FailingWrites(session.GetPrimaryKeyString()))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => session.GetOrPinAsync(B("b1"), Ttl));
            Assert.Null(await session.GetAsync());
            await Assert.ThrowsAnyAsync<Exception>(() => session.GetOrPinAsync(B("b2"), Ttl)); // still nothing kept
            Assert.Null(await session.GetAsync());
        }

        var next = await session.GetOrPinAsync(B("b3"), Ttl);
        Assert.Equal((PinOutcome.Created, "b3"), (next.Outcome, next.Pin.BackendId));
    }

    [Fact]
    public async Task RepinAndUnpin_StoreFailsTheWrite_CallFailsAndTheStoredPinStands()
    {
        var session = NewSession();
        var first = await session.GetOrPinAsync(B("b1"), Ttl);
        using (cluster.SessionStorage.FailingWrites(session.GetPrimaryKeyString()))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => session.RepinAsync(first.Pin.Epoch, Stopped, B("b2"), Ttl));
            Assert.Equal(("b1", first.Pin.Epoch), ((await session.GetAsync())!.BackendId, (await session.GetAsync())!.Epoch));
            await Assert.ThrowsAnyAsync<Exception>(() => session.UnpinAsync());
            Assert.Equal("b1", (await session.GetAsync())?.BackendId);
        }

        await CollectAsync(session); // what was stored is what this activation answered
        var again = await session.GetOrPinAsync(B("b3"), Ttl);
        Assert.Equal((PinOutcome.Existing, "b1", first.Pin.Epoch), (again.Outcome, again.Pin.BackendId, again.Pin.Epoch));
    }

    [Fact]
    public async Task GetOrPinAsync_ExpiryExtensionCannotBeStored_AnswersTheStoredPin()
    {
        // An extension is not a change of the pin: failing the request for it would turn a store outage into guesses.
        var session = NewSession();
        var first = await session.GetOrPinAsync(B("b1"), Ttl);
        cluster.Time.Advance(TimeSpan.FromMinutes(6)); // less than half the TTL left: this call writes the extension
        using (cluster.SessionStorage.FailingWrites(session.GetPrimaryKeyString()))
        {
            var seen = await session.GetOrPinAsync(B("b2"), Ttl);
            Assert.Equal((PinOutcome.Existing, "b1", first.Pin.Epoch), (seen.Outcome, seen.Pin.BackendId, seen.Pin.Epoch));
        }

        cluster.Time.Advance(TimeSpan.FromMinutes(1));
        await session.GetOrPinAsync(B("b1"), Ttl); // stored now
        await CollectAsync(session);
        cluster.Time.Advance(TimeSpan.FromMinutes(5)); // past the first stored expiry
        Assert.Equal("b1", (await session.GetAsync())?.BackendId);
    }

    [Fact]
    public async Task GetOrPinAsync_AfterTheTtlWithoutRequests_PinLapsesAndTheNextProposalIsPinnedWithAHigherEpoch()
    {
        var session = NewSession();
        var first = await session.GetOrPinAsync(B("b1"), Ttl);

        cluster.Time.Advance(Ttl + TimeSpan.FromMinutes(1));

        Assert.Null(await session.GetAsync());
        var next = await session.GetOrPinAsync(B("b2"), Ttl);
        Assert.Equal(PinOutcome.Created, next.Outcome);
        Assert.Equal("b2", next.Pin.BackendId);
        Assert.True(next.Pin.Epoch > first.Pin.Epoch);
    }

    [Fact]
    public async Task GetOrPinAsync_SessionSeenAgain_ExtendsTheIdleExpiry()
    {
        var session = NewSession();
        await session.GetOrPinAsync(B("b1"), Ttl);

        cluster.Time.Advance(TimeSpan.FromMinutes(8));
        var seen = await session.GetOrPinAsync(B("b2"), Ttl);
        Assert.Equal(PinOutcome.Existing, seen.Outcome);
        Assert.Equal("b1", seen.Pin.BackendId);

        cluster.Time.Advance(TimeSpan.FromMinutes(7)); // 15 min after pinning, 7 after the last request
        Assert.Equal("b1", (await session.GetAsync())?.BackendId);

        cluster.Time.Advance(TimeSpan.FromMinutes(3) + TimeSpan.FromSeconds(1)); // 10 min + 1 s idle
        Assert.Null(await session.GetAsync());
    }

    [Fact]
    public async Task UnpinAsync_PinnedSession_NextRequestIsPinnedAfreshWithAHigherEpoch()
    {
        var session = NewSession();
        var first = await session.GetOrPinAsync(B("b1"), Ttl);

        await session.UnpinAsync();

        Assert.Null(await session.GetAsync());
        var next = await session.GetOrPinAsync(B("b3"), Ttl);
        Assert.Equal(PinOutcome.Created, next.Outcome);
        Assert.Equal("b3", next.Pin.BackendId);
        Assert.True(next.Pin.Epoch > first.Pin.Epoch + 1, "Unpin and pin each bump the epoch.");
    }

    [Fact]
    public async Task UnpinAsync_DeletesTheStoredPinAndTheNextPinStillGetsAHigherEpoch()
    {
        var session = NewSession();
        var first = await session.GetOrPinAsync(B("b1"), Ttl);
        Assert.True(cluster.SessionStorage.IsStored(session.GetPrimaryKeyString()));

        await session.UnpinAsync();
        Assert.False(cluster.SessionStorage.IsStored(session.GetPrimaryKeyString()));

        await CollectAsync(session); // a new activation reads nothing: the epoch, from the clock, must still not repeat
        cluster.Time.Advance(TimeSpan.FromMilliseconds(1)); // the clock moved on while the activation left, as it does
        var next = await session.GetOrPinAsync(B("b2"), Ttl);
        Assert.True(next.Pin.Epoch > first.Pin.Epoch, $"epoch {next.Pin.Epoch} after {first.Pin.Epoch}");
    }

    [Fact]
    public async Task LapsedPin_IsDeletedFromTheStoreWhenItsActivationLeaves()
    {
        var session = NewSession();
        await session.GetOrPinAsync(B("b1"), Ttl);
        cluster.Time.Advance(Ttl + TimeSpan.FromSeconds(1));
        Assert.Null(await session.GetAsync());

        await CollectAsync(session);

        Assert.False(cluster.SessionStorage.IsStored(session.GetPrimaryKeyString()));
    }

    [Fact]
    public void SessionState_IsNeededUntilItsPinsStoredExpiryAndAlwaysWhenUnpinned()
    {
        var expires = new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
        Assert.Equal(expires, new SessionState { BackendId = "b1", ExpiresAt = expires }.KeepUntil);
        Assert.Null(new SessionState { ExpiresAt = expires }.KeepUntil);
    }

    [Fact]
    public async Task GetAsync_AfterTheIdleGrainWasCollected_PinAndUnpersistedExtensionComeBackFromStorage()
    {
        var session = NewSession();
        var first = await session.GetOrPinAsync(B("b1"), Ttl); // persisted expiry: 10 min from now
        cluster.Time.Advance(TimeSpan.FromMinutes(2));
        await session.GetOrPinAsync(B("b2"), Ttl); // extended to 12 min, in memory only (8 min of the persisted 10 left)

        await CollectAsync(session);

        cluster.Time.Advance(TimeSpan.FromMinutes(9)); // 11 min after pinning: past the persisted expiry, not the extended one
        var pin = await session.GetAsync();
        Assert.NotNull(pin);
        Assert.Equal(("b1", first.Pin.Epoch), (pin.BackendId, pin.Epoch));
    }

    [Fact]
    public async Task BackendSessionsGrain_AfterIdleCollection_StillListsThePinnedSession()
    {
        var key = Guid.NewGuid().ToString("N");
        var session = cluster.Client.GetGrain<ISessionGrain>(SessionGrainKey.For("web", key));
        await session.GetOrPinAsync(B("b-kept"), Ttl);
        var index = cluster.Client.GetGrain<IBackendSessionsGrain>("web/b-kept");
        await GrainClusterFixture.EventuallyAsync(() => index.ListAsync(null, 10), p => p.Sessions.Contains(key));

        // The index lives only in memory: collecting it when idle would forget the session (its grain, with nothing
        // to persist on deactivation, does not track it again).
        await CollectAsync(session);

        Assert.Contains(key, (await index.ListAsync(null, 10)).Sessions);
    }

    [Fact]
    public async Task GetOrPinAsync_ConfirmationWakesACollectedSession_AnswersThenLeavesMemoryWithTheExtensionPersisted()
    {
        var session = NewSession();
        var first = await session.GetOrPinAsync(B("b1"), Ttl); // persisted expiry: 10 min from now
        await CollectAsync(session);

        cluster.Time.Advance(TimeSpan.FromMinutes(2));
        var confirmed = await session.GetOrPinAsync(B("b1"), Ttl); // a gateway's confirmation: extended to 12 min, not written

        Assert.Equal(PinOutcome.Existing, confirmed.Outcome);
        Assert.Equal(("b1", first.Pin.Epoch), (confirmed.Pin.BackendId, confirmed.Pin.Epoch));
        var management = cluster.Client.GetGrain<IManagementGrain>(0);
        var remaining = await GrainClusterFixture.EventuallyAsync(() => management.GetGrainActivationCount((GrainReference)session), n => n == 0);
        Assert.Equal(0, remaining); // gone after a few idle seconds, without a collection pass (that would take two minutes)

        cluster.Time.Advance(TimeSpan.FromMinutes(9)); // 11 min after pinning: past the first persisted expiry, not the extended one
        var pin = await session.GetAsync();
        Assert.NotNull(pin);
        Assert.Equal(("b1", first.Pin.Epoch), (pin.BackendId, pin.Epoch));
    }

    [Fact]
    public async Task GetOrPinAsync_ConfirmationFollowedByAnotherGateway_BothAnsweredByOneActivationThatStays()
    {
        // Restarted gateways ask for the same session milliseconds apart. Deactivating right after the first answer
        // made the second call wait Orleans' whole response timeout (the chaos test saw sessions split that way).
        var barrier = NewSession();
        await barrier.GetOrPinAsync(B("b1"), Ttl);
        var session = NewSession();
        var first = await session.GetOrPinAsync(B("b1"), Ttl);
        await CollectAsync(barrier);
        await CollectAsync(session);

        var woken = await session.GetOrPinAsync(B("b1"), Ttl); // one gateway: only a confirmation woke it
        await barrier.GetOrPinAsync(B("b1"), Ttl); // confirmation-only, woken after it: its release timer fires later
        var second = await session.GetOrPinAsync(B("b2"), Ttl); // another gateway, right after

        Assert.Equal((first.Pin.BackendId, first.Pin.Epoch), (woken.Pin.BackendId, woken.Pin.Epoch));
        Assert.Equal((first.Pin.BackendId, first.Pin.Epoch), (second.Pin.BackendId, second.Pin.Epoch));
        var management = cluster.Client.GetGrain<IManagementGrain>(0);
        Assert.Equal(0, await GrainClusterFixture.EventuallyAsync(() => management.GetGrainActivationCount((GrainReference)barrier), n => n == 0));
        Assert.Equal(1, await management.GetGrainActivationCount((GrainReference)session)); // its own release timer fired first, and let it stay
    }

    [Fact]
    public async Task GetOrPinAsync_SessionJustCreated_KeepsItsActivationForTheOtherGatewaysAsking()
    {
        var confirmedOnly = NewSession();
        await confirmedOnly.GetOrPinAsync(B("b1"), Ttl);
        await CollectAsync(confirmedOnly);

        var created = NewSession();
        await created.GetOrPinAsync(B("b1"), Ttl);
        await created.GetOrPinAsync(B("b2"), Ttl); // a second gateway asking within seconds

        // The confirmation-only activation leaving memory shows deactivation had time to happen; the creator's did not.
        await confirmedOnly.GetOrPinAsync(B("b1"), Ttl);
        var management = cluster.Client.GetGrain<IManagementGrain>(0);
        Assert.Equal(0, await GrainClusterFixture.EventuallyAsync(() => management.GetGrainActivationCount((GrainReference)confirmedOnly), n => n == 0));
        Assert.Equal(1, await management.GetGrainActivationCount((GrainReference)created));
    }

    [Fact]
    public void SessionGrain_IdleCollectionAge_IsShortSoOnlyRecentlyCreatedOrCalledSessionsStayInMemory()
    {
        // Sessions only confirmed by gateways deactivate after each confirmation (see the test above); the collection
        // age bounds the rest, so steady-state silo memory is about the sessions created or called in the last two
        // minutes, not all sessions in use. Longer than one collection quantum (a minute), or it would mean nothing.
        var manifest = cluster.Client.ServiceProvider.GetRequiredService<IClusterManifestProvider>().Current;
        var session = manifest.AllGrainManifests.SelectMany(m => m.Grains).First(g => g.Value.Properties.TryGetValue(WellKnownGrainTypeProperties.TypeName, out var name) && name == nameof(SessionGrain));
        var age = TimeSpan.Parse(session.Value.Properties[WellKnownGrainTypeProperties.IdleDeactivationPeriod], CultureInfo.InvariantCulture);

        Assert.Equal(TimeSpan.FromMinutes(SessionGrain.CollectionAgeMinutes), age);
        Assert.InRange(age, TimeSpan.FromMinutes(1.5), TimeSpan.FromMinutes(5));
    }

    // Runs Orleans' idle collector as its timer would once the collection age passed, and waits until the grain is gone.
    private async Task CollectAsync(ISessionGrain session)
    {
        var management = cluster.Client.GetGrain<IManagementGrain>(0);
        await management.ForceActivationCollection(TimeSpan.Zero);
        var remaining = await GrainClusterFixture.EventuallyAsync(() => management.GetGrainActivationCount((GrainReference)session), n => n == 0);
        Assert.Equal(0, remaining);
    }

    [Fact]
    public async Task GetOrPinAsync_InvalidArguments_AreRejected()
    {
        var session = NewSession();
        await Assert.ThrowsAsync<ArgumentException>(() => session.GetOrPinAsync(B(" "), Ttl));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => session.GetOrPinAsync(B("b1"), TimeSpan.Zero));
        Assert.Null(await session.GetAsync());
    }
}
