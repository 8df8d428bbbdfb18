using Distributed.Gateway.LoadBalancing;

namespace Distributed.Gateway.Tests.LoadBalancing;

[Trait("Category", "Unit")]
public sealed class SmoothWeightedRoundRobinTests
{
    private static PlacementCandidate C(string id, double weight, bool usable = true, int configured = 0) =>
        new(id, configured > 0 ? configured : (int)Math.Ceiling(weight), weight, Load: 0, usable);

    private static string[] Picks(SmoothWeightedRoundRobin rotation, PlacementCandidate[] candidates, int count)
    {
        var picks = new string[count];
        for (var i = 0; i < count; i++)
        {
            var index = rotation.Next(candidates);
            picks[i] = index < 0 ? "-" : candidates[index].Id;
        }

        return picks;
    }

    [Fact]
    public void Next_Weights511_GiveExactly511OverSevenThousandPicks()
    {
        var picks = Picks(new SmoothWeightedRoundRobin(), [C("a", 5), C("b", 1), C("c", 1)], 7_000);

        Assert.Equal(5_000, picks.Count(p => p == "a"));
        Assert.Equal(1_000, picks.Count(p => p == "b"));
        Assert.Equal(1_000, picks.Count(p => p == "c"));
    }

    [Fact]
    public void Next_Weights511_InterleaveAsNginxDoes()
    {
        var picks = Picks(new SmoothWeightedRoundRobin(), [C("a", 5), C("b", 1), C("c", 1)], 7_000);

        // nginx's documented sequence for {a:5, b:1, c:1}, repeated.
        Assert.Equal(["a", "a", "b", "a", "c", "a", "a"], picks[..7]);

        // Smooth: every window of seven consecutive picks holds exactly the 5:1:1 shares, so the light backends are
        // never starved for long and the heavy one never gets a burst longer than the sequence's own (four, across the
        // boundary of two cycles), where plain weighted round robin would send it five in a row.
        for (var start = 0; start + 7 <= picks.Length; start++)
        {
            var window = picks.AsSpan(start, 7).ToArray();
            Assert.Equal(5, window.Count(p => p == "a"));
            Assert.Equal(1, window.Count(p => p == "b"));
        }

        var longestRun = picks.Select((p, i) => picks.Skip(i).TakeWhile(q => q == "a").Count()).Take(14).Max();
        Assert.Equal(4, longestRun);
    }

    [Fact]
    public void Next_UnusableBackends_AreSkippedAndTheOthersKeepTheirShares()
    {
        var rotation = new SmoothWeightedRoundRobin();
        var picks = Picks(rotation, [C("a", 2), C("b", 1, usable: false), C("c", 1)], 3_000);

        Assert.DoesNotContain("b", picks);
        Assert.Equal(2_000, picks.Count(p => p == "a"));
        Assert.Equal("-", Picks(rotation, [C("a", 2, usable: false), C("c", 1, usable: false)], 1)[0]);
    }

    [Fact]
    public void Next_SlowStartFractionalWeight_GetsItsFractionalShare()
    {
        // b ramps at a quarter of its weight 4: effective 1 against a's 3.
        var picks = Picks(new SmoothWeightedRoundRobin(), [C("a", 3), C("b", 1, configured: 4)], 4_000);

        Assert.Equal(3_000, picks.Count(p => p == "a"));
        Assert.Equal(1_000, picks.Count(p => p == "b"));
    }

    [Fact]
    public void Next_BackendAddedLater_JoinsTheRotationWithItsShare()
    {
        var rotation = new SmoothWeightedRoundRobin();
        Picks(rotation, [C("a", 1), C("b", 1)], 5);
        var picks = Picks(rotation, [C("a", 1), C("b", 1), C("c", 2)], 4_000);

        Assert.InRange(picks.Count(p => p == "c"), 1_999, 2_001);
    }
}

[Trait("Category", "Unit")]
public sealed class WeightedRandomBackendSelectorTests
{
    [Fact]
    public void Select_Weights311_DrawsInProportionAndNeverTheUnusable()
    {
        BackendCandidate[] candidates = [new(0, 3, true), new(100, 1, true), new(0, 1, true), new(0, 5, false)];
        var counts = new int[4];
        var random = new Random(42);
        for (var i = 0; i < 50_000; i++)
        {
            counts[WeightedRandomBackendSelector.Select(candidates, random)]++;
        }

        // Expected 30 000 / 10 000 / 10 000; load is not looked at. Bounds are about five standard deviations.
        Assert.InRange(counts[0], 29_450, 30_550);
        Assert.InRange(counts[1], 9_550, 10_450);
        Assert.InRange(counts[2], 9_550, 10_450);
        Assert.Equal(0, counts[3]);
    }

    [Fact]
    public void Select_NoneUsable_ReturnsMinusOne() =>
        Assert.Equal(-1, WeightedRandomBackendSelector.Select([new(0, 1, false)], new Random(1)));
}

[Trait("Category", "Unit")]
public sealed class FirstAvailableBackendSelectorTests
{
    private static PlacementCandidate C(string id, bool usable = true, double effective = 1, int weight = 1) => new(id, weight, effective, 0, usable);

    [Fact]
    public void Select_TakesTheFirstUsableIdInOrdinalOrderWhateverTheListOrder()
    {
        Assert.Equal(2, FirstAvailableBackendSelector.Select([C("b2"), C("c"), C("a1"), C("b1")], new Random(1)));
        Assert.Equal(3, FirstAvailableBackendSelector.Select([C("b2"), C("c"), C("a1", usable: false), C("b1")], new Random(1)));
        Assert.Equal(1, FirstAvailableBackendSelector.Select([C("b2", usable: false), C("c"), C("a1", usable: false)], new Random(1)));
        Assert.Equal(-1, FirstAvailableBackendSelector.Select([C("a", usable: false)], new Random(1)));
    }

    [Fact]
    public void Select_FirstInSlowStart_TakesItsRampedShareAndTheNextTheRest()
    {
        PlacementCandidate[] candidates = [C("standby"), C("primary", effective: 2.5, weight: 10)];
        var random = new Random(3);
        var primary = 0;
        for (var i = 0; i < 20_000; i++)
        {
            primary += FirstAvailableBackendSelector.Select(candidates, random) == 1 ? 1 : 0;
        }

        Assert.InRange(primary, 4_700, 5_300); // a quarter of 20 000
    }
}
