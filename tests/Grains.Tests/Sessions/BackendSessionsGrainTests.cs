using Distributed.Grains.Abstractions;
using Distributed.Grains.Sessions;

namespace Distributed.Grains.Tests.Sessions;

[Trait("Category", "Grains")]
public sealed class BackendSessionsGrainTests(GrainClusterFixture cluster) : IClassFixture<GrainClusterFixture>
{
    private IBackendSessionsGrain NewIndex() => cluster.Client.GetGrain<IBackendSessionsGrain>(GrainKeys.Backend("web", $"b-{Guid.NewGuid():N}"));

    [Fact]
    public async Task ListAsync_PagesInOrderFromTheCursorAndSkipsLapsedEntries()
    {
        var index = NewIndex();
        var now = cluster.Time.GetUtcNow();
        foreach (var key in (string[])["d", "a", "c", "e", "b"])
        {
            await index.TrackAsync(key, now.AddMinutes(30));
        }

        await index.TrackAsync("bb", now.AddMinutes(-1)); // lapsed

        // One-way calls may overtake each other: forget only once the tracking arrived.
        await GrainClusterFixture.EventuallyAsync(() => index.ListAsync(null, 10), p => p.Sessions.Count == 5);
        await index.ForgetAsync("e");
        var all = await GrainClusterFixture.EventuallyAsync(() => index.ListAsync(null, 10), p => p.Sessions.Count == 4);
        Assert.Equal(["a", "b", "c", "d"], all.Sessions);

        var first = await index.ListAsync(null, 2);
        Assert.Equal(["a", "b"], first.Sessions);
        Assert.Equal("b", first.Next);
        var second = await index.ListAsync(first.Next, 2);
        Assert.Equal(["c", "d"], second.Sessions);
        Assert.Null(second.Next);
        Assert.Empty((await index.ListAsync("zzz", 2)).Sessions);
    }

    [Fact]
    public async Task ListAsync_ListStartedAgainAfterALoss_SaysItKnowsOnlySinceThen()
    {
        var first = await NewIndex().ListAsync(null, 1);
        Assert.Equal(DateTimeOffset.MinValue, first.TrackingSince); // the backend's first list: nothing came before it

        // A list of this backend existed (its marker is stored) and was lost with its silo: the one that takes its
        // place knows only what it sees from now on, and must not claim to be complete.
        var key = GrainKeys.Backend("web", $"b-{Guid.NewGuid():N}");
        cluster.PoolStorage.Put("session-list", key, new SessionListState { FirstStarted = cluster.Time.GetUtcNow() });
        cluster.Time.Advance(TimeSpan.FromMinutes(1));
        var again = await cluster.Client.GetGrain<IBackendSessionsGrain>(key).ListAsync(null, 1);
        Assert.Equal(0, again.Total);
        Assert.Equal(cluster.Time.GetUtcNow(), again.TrackingSince);
    }
}
