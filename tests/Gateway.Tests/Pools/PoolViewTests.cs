using Distributed.Gateway.Pools;
using Distributed.Gateway.Tests.Fakes;
using Distributed.Grains.Abstractions;
using static Distributed.Gateway.Tests.Fakes.ViewFactory;

namespace Distributed.Gateway.Tests.Pools;

[Trait("Category", "Unit")]
public sealed class PoolViewTests
{
    private readonly ViewFactory _views = new();

    [Fact]
    public void ChooseLeastLoaded_BackendAtItsLimit_IsSkippedAndAllFullIsNull()
    {
        var view = _views.View(Backend("b1", inFlight: 3, maxInFlight: 3), Backend("b2", inFlight: 2, maxInFlight: 3));
        Assert.True(view.Find("b1")!.IsFull);
        Assert.Equal("b2", view.ChooseLeastLoaded(new Random(1))!.Id);

        view.Find("b2")!.Counter.Begin();
        Assert.Null(view.ChooseLeastLoaded(new Random(1)));
    }

    [Fact]
    public void Counter_EndWithOutcome_IsReportedOnceAsCompletedAndFailed()
    {
        var counter = new BackendCounter();
        counter.Begin();
        counter.Begin();
        counter.End(failed: false);
        counter.End(failed: true);

        Assert.Equal((2L, 1L), counter.TakeOutcomes());
        Assert.Equal((0L, 0L), counter.TakeOutcomes());
        Assert.Equal(0, counter.InFlight);

        // The running totals behind the request metrics are not taken by reports.
        Assert.Equal((1L, 1L), (counter.SucceededTotal, counter.FailedTotal));
    }

    [Fact]
    public void ChooseLeastLoaded_DrainingBackends_AreNeverChosen()
    {
        var view = _views.View(Backend("b1", state: BackendState.Draining), Backend("b2", inFlight: 50), Backend("b3", state: BackendState.Draining));
        var random = new Random(1);
        for (var i = 0; i < 500; i++)
        {
            Assert.Equal("b2", view.ChooseLeastLoaded(random)!.Id);
        }
    }

    [Fact]
    public void ChooseLeastLoaded_NothingUsable_IsNull() =>
        Assert.Null(_views.View(Backend("b1", state: BackendState.Draining)).ChooseLeastLoaded(new Random(1)));

    [Fact]
    public void ChooseLeastLoaded_BackendBusyAcrossTheCluster_IsAvoided()
    {
        var view = _views.View(Backend("b1"), Backend("b2", inFlight: 30), Backend("b3", inFlight: 1));
        var random = new Random(5);
        Assert.DoesNotContain("b2", Enumerable.Range(0, 1_000).Select(_ => view.ChooseLeastLoaded(random)!.Id));
    }

    [Fact]
    public void EstimatedInFlight_ReplacesThisGatewaysReportedShareWithItsLiveCount()
    {
        var view = _views.View(Backend("b1", inFlight: 10));
        var entry = view.Find("b1")!;
        entry.Counter.Reported = 4;
        entry.Counter.Begin();
        entry.Counter.Begin();

        Assert.Equal(10 - 4 + 2, entry.EstimatedInFlight);

        entry.Counter.Reported = 15; // a snapshot older than this gateway's report: never negative
        Assert.Equal(2, entry.EstimatedInFlight);
    }

    [Fact]
    public void ChooseLeastLoadedExcept_ExcludedBackend_IsNeverChosen()
    {
        var view = _views.View(Backend("b1"), Backend("b2", inFlight: 100));
        var random = new Random(2);
        for (var i = 0; i < 200; i++)
        {
            Assert.Equal("b2", view.ChooseLeastLoadedExcept("b1", random)!.Id);
        }
    }

    [Fact]
    public void Place_SameKey_SameBackendOnEveryViewWithTheSameBackendsAndSimilarLoad()
    {
        // Order of backends and moderate load differences do not change where a session goes: any gateway, warm or
        // cold, computes the same placement (docs/chaos.md).
        var first = _views.View(Backend("b1"), Backend("b2"), Backend("b3", inFlight: 3));
        var second = _views.View(Backend("b3"), Backend("b1", inFlight: 4), Backend("b2"));
        for (var i = 0; i < 500; i++)
        {
            Assert.Equal(first.Place($"user-{i}", 2)!.Id, second.Place($"user-{i}", 2)!.Id);
        }

        Assert.Null(_views.View(Backend("b1", state: BackendState.Draining)).Place("user-1", 2));
    }

    [Fact]
    public void Place_ExcludedOrFullBackend_IsNeverChosen()
    {
        var view = _views.View(Backend("b1"), Backend("b2", inFlight: 5, maxInFlight: 5), Backend("b3"));
        for (var i = 0; i < 300; i++)
        {
            var placed = view.Place($"user-{i}", 2, excludedId: "b1")!.Id;
            Assert.Equal("b3", placed);
        }
    }

    [Fact]
    public void Place_ThisGatewaysOwnInFlight_CountsAtOnce()
    {
        // Requests this gateway sent since its last report steer placement before the snapshot shows them.
        var view = _views.View(Backend("b1"), Backend("b2"), Backend("b3"));
        var key = Enumerable.Range(0, 100).Select(i => $"user-{i}").First(k => view.Place(k, 2)!.Id == "b1");
        for (var i = 0; i < 20; i++)
        {
            view.Find("b1")!.Counter.Begin();
        }

        Assert.NotEqual("b1", view.Place(key, 2)!.Id);
    }

    [Fact]
    public void Guess_IgnoresLoadSoGatewaysWithDifferentLoadFiguresGuessAlike()
    {
        // Two gateways whose load figures differ a lot (their own in-flight counts, a report apart): placement may
        // differ for a key whose first choice is busy, the guess never does.
        var quiet = _views.View(Backend("b1"), Backend("b2"), Backend("b3"));
        var busy = _views.View(Backend("b1", inFlight: 40), Backend("b2"), Backend("b3"));
        var keys = Enumerable.Range(0, 300).Select(i => $"user-{i}").ToList();

        Assert.Contains(keys, k => quiet.Place(k, 2)!.Id != busy.Place(k, 2)!.Id);
        Assert.All(keys, k => Assert.Equal(quiet.Guess(k)!.Id, busy.Guess(k)!.Id));
        Assert.All(keys, k => Assert.Equal(quiet.Place(k, 2)!.Id, quiet.Guess(k)!.Id));
    }

    [Fact]
    public void ChooseLeastLoaded_TwoBackendPool_SlowStartShapesTheShareOfNewSessions()
    {
        // b1 serves 4 requests; b2 was just added (or recovered) and is idle. 30 new sessions arrive within one
        // snapshot interval: each pinned choice counts until the next snapshot, so b2's share follows its ramp instead
        // of it taking every session while its figures say idle.
        int Share(double factor)
        {
            _views.ResetCounters();
            var view = _views.View(Backend("b1", inFlight: 4), Backend("b2") with { EffectiveWeight = factor });
            var random = new Random(7);
            var onB2 = 0;
            for (var i = 0; i < 30; i++)
            {
                var chosen = view.ChooseLeastLoaded(random)!;
                chosen.Counter.Placed();
                onB2 += chosen.Id == "b2" ? 1 : 0;
            }

            return onB2;
        }

        var (tenth, half, full) = (Share(0.1), Share(0.5), Share(1));
        Assert.InRange(tenth, 1, 4);
        Assert.InRange(half, 9, 13);
        Assert.InRange(full, 15, 19);
    }

    [Fact]
    public void PlacedSinceSnapshot_CountsUntilTheNextSnapshotArrives()
    {
        var view = _views.View(Backend("b1", inFlight: 2));
        var entry = view.Find("b1")!;
        entry.Counter.Placed();
        entry.Counter.Placed();
        Assert.Equal(4, entry.EstimatedLoad);
        Assert.Equal(2, entry.EstimatedInFlight); // limits count requests, not sessions

        entry.Counter.SnapshotArrived();
        Assert.Equal(2, entry.EstimatedLoad);
    }
}
