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

    private ISessionGrain NewSession() => cluster.Client.GetGrain<ISessionGrain>(SessionGrainKey.For("web", Guid.NewGuid().ToString("N")));

    [Fact]
    public async Task GetOrPinAsync_ConcurrentCallersProposingDifferentBackends_AllGetOnePin()
    {
        var session = NewSession();
        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => session.GetOrPinAsync($"b{i % 5}", Ttl)));

        Assert.Single(results.Select(r => r.Pin.BackendId).Distinct());
        Assert.Single(results.Select(r => r.Pin.Epoch).Distinct());
        Assert.Single(results, r => r.Outcome == PinOutcome.Created);
        Assert.Equal(49, results.Count(r => r.Outcome == PinOutcome.Existing));
    }

    [Fact]
    public async Task RepinAsync_TwoCallersWithTheSameExpectedEpoch_OneWinsTheOtherGetsTheWinner()
    {
        var session = NewSession();
        var first = await session.GetOrPinAsync("b1", Ttl);

        var results = await Task.WhenAll(
            session.RepinAsync(first.Pin.Epoch, "b2", Ttl),
            session.RepinAsync(first.Pin.Epoch, "b3", Ttl));

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
        var first = await session.GetOrPinAsync("b1", Ttl);
        var moved = await session.RepinAsync(first.Pin.Epoch, "b2", Ttl);

        var stale = await session.RepinAsync(first.Pin.Epoch, "b3", Ttl);

        Assert.Equal(PinOutcome.Conflict, stale.Outcome);
        Assert.Equal("b2", stale.Pin.BackendId);
        Assert.Equal(moved.Pin.Epoch, stale.Pin.Epoch);
    }

    [Fact]
    public async Task GetOrPinAsync_AfterTheTtlWithoutRequests_PinLapsesAndTheNextProposalIsPinnedWithAHigherEpoch()
    {
        var session = NewSession();
        var first = await session.GetOrPinAsync("b1", Ttl);

        cluster.Time.Advance(Ttl + TimeSpan.FromMinutes(1));

        Assert.Null(await session.GetAsync());
        var next = await session.GetOrPinAsync("b2", Ttl);
        Assert.Equal(PinOutcome.Created, next.Outcome);
        Assert.Equal("b2", next.Pin.BackendId);
        Assert.True(next.Pin.Epoch > first.Pin.Epoch);
    }

    [Fact]
    public async Task GetOrPinAsync_SessionSeenAgain_ExtendsTheIdleExpiry()
    {
        var session = NewSession();
        await session.GetOrPinAsync("b1", Ttl);

        cluster.Time.Advance(TimeSpan.FromMinutes(8));
        var seen = await session.GetOrPinAsync("b2", Ttl);
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
        var first = await session.GetOrPinAsync("b1", Ttl);

        await session.UnpinAsync();

        Assert.Null(await session.GetAsync());
        var next = await session.GetOrPinAsync("b3", Ttl);
        Assert.Equal(PinOutcome.Created, next.Outcome);
        Assert.Equal("b3", next.Pin.BackendId);
        Assert.True(next.Pin.Epoch > first.Pin.Epoch + 1, "Unpin and pin each bump the epoch.");
    }

    [Fact]
    public async Task GetAsync_AfterTheIdleGrainWasCollected_PinAndUnpersistedExtensionComeBackFromStorage()
    {
        var session = NewSession();
        var first = await session.GetOrPinAsync("b1", Ttl); // persisted expiry: 10 min from now
        cluster.Time.Advance(TimeSpan.FromMinutes(2));
        await session.GetOrPinAsync("b2", Ttl); // extended to 12 min, in memory only (8 min of the persisted 10 left)

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
        await session.GetOrPinAsync("b-kept", Ttl);
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
        var first = await session.GetOrPinAsync("b1", Ttl); // persisted expiry: 10 min from now
        await CollectAsync(session);

        cluster.Time.Advance(TimeSpan.FromMinutes(2));
        var confirmed = await session.GetOrPinAsync("b1", Ttl); // a gateway's confirmation: extended to 12 min, not written

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
        await barrier.GetOrPinAsync("b1", Ttl);
        var session = NewSession();
        var first = await session.GetOrPinAsync("b1", Ttl);
        await CollectAsync(barrier);
        await CollectAsync(session);

        var woken = await session.GetOrPinAsync("b1", Ttl); // one gateway: only a confirmation woke it
        await barrier.GetOrPinAsync("b1", Ttl); // confirmation-only, woken after it: its release timer fires later
        var second = await session.GetOrPinAsync("b2", Ttl); // another gateway, right after

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
        await confirmedOnly.GetOrPinAsync("b1", Ttl);
        await CollectAsync(confirmedOnly);

        var created = NewSession();
        await created.GetOrPinAsync("b1", Ttl);
        await created.GetOrPinAsync("b2", Ttl); // a second gateway asking within seconds

        // The confirmation-only activation leaving memory shows deactivation had time to happen; the creator's did not.
        await confirmedOnly.GetOrPinAsync("b1", Ttl);
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
        await Assert.ThrowsAsync<ArgumentException>(() => session.GetOrPinAsync(" ", Ttl));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => session.GetOrPinAsync("b1", TimeSpan.Zero));
        Assert.Null(await session.GetAsync());
    }
}
