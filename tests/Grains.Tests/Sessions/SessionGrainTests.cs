using Distributed.Grains.Abstractions;

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
    public async Task GetOrPinAsync_InvalidArguments_AreRejected()
    {
        var session = NewSession();
        await Assert.ThrowsAsync<ArgumentException>(() => session.GetOrPinAsync(" ", Ttl));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => session.GetOrPinAsync("b1", TimeSpan.Zero));
        Assert.Null(await session.GetAsync());
    }
}
