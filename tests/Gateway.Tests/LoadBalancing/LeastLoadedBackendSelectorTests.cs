using Distributed.Gateway.LoadBalancing;

namespace Distributed.Gateway.Tests.LoadBalancing;

[Trait("Category", "Unit")]
public sealed class LeastLoadedBackendSelectorTests
{
    [Fact]
    public void Select_NoneUsable_ReturnsMinusOne()
    {
        BackendCandidate[] candidates = [new(0, 1, false), new(0, 1, false)];
        Assert.Equal(-1, LeastLoadedBackendSelector.Select(candidates, new Random(1)));
        Assert.Equal(-1, LeastLoadedBackendSelector.Select([], new Random(1)));
    }

    [Fact]
    public void Select_OneUsable_ReturnsItWhateverItsLoad()
    {
        BackendCandidate[] candidates = [new(0, 1, false), new(500, 1, true), new(0, 1, false)];
        for (var seed = 0; seed < 50; seed++)
        {
            Assert.Equal(1, LeastLoadedBackendSelector.Select(candidates, new Random(seed)));
        }
    }

    [Fact]
    public void Select_ManyDraws_NeverReturnsAnUnusableCandidate()
    {
        BackendCandidate[] candidates = [new(0, 1, false), new(5, 1, true), new(0, 1, false), new(7, 1, true), new(1, 1, false)];
        var random = new Random(7);
        for (var i = 0; i < 10_000; i++)
        {
            Assert.Contains(LeastLoadedBackendSelector.Select(candidates, random), new[] { 1, 3 });
        }
    }

    [Fact]
    public void Select_OneHeavilyLoadedAmongThree_IsNeverChosen()
    {
        // Two distinct candidates are drawn; the most loaded one loses every draw it is part of.
        BackendCandidate[] candidates = [new(1, 1, true), new(40, 1, true), new(2, 1, true)];
        var random = new Random(3);
        var counts = new int[3];
        for (var i = 0; i < 30_000; i++)
        {
            counts[LeastLoadedBackendSelector.Select(candidates, random)]++;
        }

        Assert.Equal(0, counts[1]);
        Assert.True(counts[0] > counts[2], $"The least loaded should win most: {string.Join(", ", counts)}");
    }

    [Fact]
    public void Select_LoadIsDividedByWeight()
    {
        // Load 2 at weight 1 (score 2) against load 3 at weight 3 (score 1): with two candidates both are always drawn.
        BackendCandidate[] candidates = [new(2, 1, true), new(3, 3, true)];
        var random = new Random(11);
        for (var i = 0; i < 1_000; i++)
        {
            Assert.Equal(1, LeastLoadedBackendSelector.Select(candidates, random));
        }
    }

    [Fact]
    public void Select_IdleBackends_ShareInProportionToWeight()
    {
        // A quiet pool: nothing in flight anywhere, so the weights alone decide (not the heavier one every time).
        BackendCandidate[] candidates = [new(0, 1, true), new(0, 3, true)];
        var random = new Random(9);
        var heavy = 0;
        const int Draws = 40_000;
        for (var i = 0; i < Draws; i++)
        {
            heavy += LeastLoadedBackendSelector.Select(candidates, random);
        }

        Assert.InRange(heavy / (double)Draws, 0.72, 0.78);
    }

    [Fact]
    public void Select_WorkThatStays_IsSharedInProportionToWeight()
    {
        // Each choice adds to the chosen backend's load (long-lived sessions), as the gateway's local correction does.
        BackendCandidate[] candidates = [new(0, 1, true), new(0, 3, true)];
        var random = new Random(9);
        var heavy = 0;
        const int Draws = 4_000;
        for (var i = 0; i < Draws; i++)
        {
            var chosen = LeastLoadedBackendSelector.Select(candidates, random);
            candidates[chosen] = candidates[chosen] with { Load = candidates[chosen].Load + 1 };
            heavy += chosen;
        }

        Assert.InRange(heavy / (double)Draws, 0.72, 0.78);
    }

    [Fact]
    public void Select_EqualLoad_SpreadsEvenly()
    {
        BackendCandidate[] candidates = [new(0, 1, true), new(0, 1, true), new(0, 1, true), new(0, 1, true)];
        var random = new Random(42);
        var counts = new int[4];
        const int Draws = 40_000;
        for (var i = 0; i < Draws; i++)
        {
            counts[LeastLoadedBackendSelector.Select(candidates, random)]++;
        }

        foreach (var count in counts)
        {
            Assert.InRange(count, Draws / 4 * 0.9, Draws / 4 * 1.1);
        }
    }

    [Fact]
    public void Select_IdleBackendAtATenthOfItsWeight_DoesNotWinAgainstALightlyLoadedOne()
    {
        // Slow start at 0.1 against 4 in flight at full weight: (0 + 1) / 0.1 = 10 is worse than (4 + 1) / 1 = 5.
        // Scoring load / weight alone made an idle backend win every draw whatever its slow-start factor.
        BackendCandidate[] candidates = [new(4, 1, true), new(0, 0.1, true)];
        var random = new Random(13);
        for (var i = 0; i < 1_000; i++)
        {
            Assert.Equal(0, LeastLoadedBackendSelector.Select(candidates, random));
        }
    }
}
