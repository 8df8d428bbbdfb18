using Distributed.Grains.Abstractions;
using Distributed.Grains.Pools;

namespace Distributed.Grains.Tests.Pools;

[Trait("Category", "Unit")]
public sealed class PoolEventHistoryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    private static PoolEvent Changed(int weight) => new(PoolEventKind.BackendChanged, "b1", "10.0.0.7 via g1", $"weight {weight - 1} → {weight}");

    [Fact]
    public void Record_PastTheCapacity_DropsTheOldestAndKeepsTheRestInOrder()
    {
        var history = new PoolEventHistory(T0, capacity: 3);
        for (var i = 1; i <= 5; i++)
        {
            history.Record(Changed(i), T0.AddSeconds(i));
        }

        var kept = history.After(null);
        Assert.Equal(3, kept.Capacity);
        Assert.Equal(T0, kept.KeptSince);
        Assert.Equal(["weight 2 → 3", "weight 3 → 4", "weight 4 → 5"], kept.Events.Select(e => e.Detail));
        Assert.Equal([T0.AddSeconds(3), T0.AddSeconds(4), T0.AddSeconds(5)], kept.Events.Select(e => e.At));
        var first = kept.Events[0].Id;
        Assert.Equal([first, first + 1, first + 2], kept.Events.Select(e => e.Id));
    }

    [Fact]
    public void After_ACursor_ReturnsOnlyLaterEventsAndAForeignCursorGetsAll()
    {
        var history = new PoolEventHistory(T0, capacity: 3);
        var ids = Enumerable.Range(1, 5).Select(i => history.Record(Changed(i), T0).Id).ToList();

        Assert.Equal(ids[3..], history.After(ids[2]).Events.Select(e => e.Id));
        Assert.Empty(history.After(ids[4]).Events);                                  // up to date
        Assert.Equal(ids[2..], history.After(ids[0]).Events.Select(e => e.Id));     // missed some: all that is kept
        Assert.Equal(ids[2..], history.After(ids[4] + 1000).Events.Select(e => e.Id)); // from a log whose clock ran ahead
        Assert.Equal(ids[2..], history.After(0).Events.Select(e => e.Id));
    }

    [Fact]
    public void Record_ALaterLog_NumbersAboveTheEarlierOne()
    {
        var earlier = new PoolEventHistory(T0);
        var last = Enumerable.Range(1, 50).Select(i => earlier.Record(Changed(i), T0).Id).Last();

        var later = new PoolEventHistory(T0.AddSeconds(1)).Record(Changed(1), T0.AddSeconds(1));

        Assert.True(later.Id > last);
    }

    [Theory]
    [InlineData(PoolEventKind.Unhealthy, "active health")]
    [InlineData(PoolEventKind.Healthy, "active health")]
    [InlineData(PoolEventKind.Ejected, "passive health")]
    [InlineData(PoolEventKind.Readmitted, "passive health")]
    [InlineData(PoolEventKind.PanicEntered, "health")]
    [InlineData(PoolEventKind.DrainFinished, "drain deadline")]
    public void Record_ATransitionNoOperatorMade_SaysWhichPartOfThePoolDidIt(PoolEventKind kind, string by)
    {
        var entry = new PoolEventHistory(T0).Record(new PoolEvent(kind, "b2"), T0);

        Assert.Equal(by, entry.By);
    }

    [Fact]
    public void Record_KindSpecificFigures_LandInTheirOwnFields()
    {
        var history = new PoolEventHistory(T0);

        var drain = history.Record(new PoolEvent(PoolEventKind.DrainStarted, "b1", "10.0.0.7 via g1", Until: T0.AddMinutes(5)), T0);
        var ejected = history.Record(new PoolEvent(PoolEventKind.Ejected, "b2", Until: T0.AddSeconds(30), Count: 2), T0);
        var panic = history.Record(new PoolEvent(PoolEventKind.PanicEntered, Count: 1, Of: 3), T0);

        Assert.True(drain is { By: "10.0.0.7 via g1", Ejections: null, Healthy: null, Backends: null });
        Assert.Equal(T0.AddMinutes(5), drain.Until);
        Assert.True(ejected is { By: "passive health", Ejections: 2, Healthy: null });
        Assert.True(panic is { Backend: null, Healthy: 1, Backends: 3, Ejections: null });
    }

    [Fact]
    public void CountedSessions_OfAKeptEvent_IsShownAndOfADroppedOneIgnored()
    {
        var history = new PoolEventHistory(T0, capacity: 1);
        var dropped = history.Record(new PoolEvent(PoolEventKind.Ejected, "b1"), T0);
        var kept = history.Record(new PoolEvent(PoolEventKind.DrainFinished, "b2"), T0);

        history.CountedSessions(kept.Id, 340);
        history.CountedSessions(dropped.Id, 7);

        var entry = Assert.Single(history.After(null).Events);
        Assert.Equal((kept.Id, 340), (entry.Id, entry.SessionsPinned));
    }

    [Theory]
    [InlineData(PoolEventKind.DrainStarted, true)]
    [InlineData(PoolEventKind.DrainFinished, true)]
    [InlineData(PoolEventKind.Ejected, true)]
    [InlineData(PoolEventKind.Unhealthy, true)]
    [InlineData(PoolEventKind.BackendRemoved, true)]
    [InlineData(PoolEventKind.BackendChanged, false)]
    [InlineData(PoolEventKind.Readmitted, false)]
    public void CountsSessions_ForDrainsAndEventsThatMoveSessions(PoolEventKind kind, bool counts) =>
        Assert.Equal(counts, PoolEventHistory.CountsSessions(kind));
}
