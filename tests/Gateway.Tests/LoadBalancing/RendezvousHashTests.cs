using Distributed.Gateway.LoadBalancing;

namespace Distributed.Gateway.Tests.LoadBalancing;

[Trait("Category", "Unit")]
public sealed class RendezvousHashTests
{
    private static readonly string[] Backends = ["b1", "b2", "b3"];

    private static string Winner(string key, IEnumerable<string> backends, Func<string, int>? weight = null) =>
        backends.MaxBy(b => RendezvousHash.Score(key, b, weight?.Invoke(b) ?? 1))!;

    [Fact]
    public void Score_SameInputs_SameScoreEveryTime()
    {
        Assert.Equal(RendezvousHash.Score("alice", "b1", 1), RendezvousHash.Score("alice", "b1", 1));
        Assert.NotEqual(RendezvousHash.Score("alice", "b1", 1), RendezvousHash.Score("alice", "b2", 1));
        Assert.NotEqual(RendezvousHash.Score("ab", "c", 1), RendezvousHash.Score("a", "bc", 1));
    }

    [Fact]
    public void Winner_ManyKeys_SpreadsOverBackends()
    {
        var counts = Enumerable.Range(0, 9_000).GroupBy(i => Winner($"user-{i}", Backends)).ToDictionary(g => g.Key, g => g.Count());
        Assert.All(Backends, b => Assert.InRange(counts.GetValueOrDefault(b), 2_600, 3_400));
    }

    [Fact]
    public void Winner_BackendRemoved_ItsKeysSpreadEvenlyOverTheOthers()
    {
        // That no other key moves holds for any deterministic score (the best of fewer backends is the same one unless
        // it was the removed one); what the hash adds is that the removed backend's keys do not all land on one other.
        var orphans = Enumerable.Range(0, 6_000).Select(i => $"user-{i}").Where(k => Winner(k, Backends) == "b2").ToList();
        string[] others = ["b1", "b3"];
        var moved = orphans.GroupBy(k => Winner(k, others)).ToDictionary(g => g.Key, g => g.Count());
        Assert.All(others, b => Assert.InRange(moved.GetValueOrDefault(b), orphans.Count * 0.4, orphans.Count * 0.6));
    }

    [Fact]
    public void Winner_HeavierBackend_GetsProportionallyMoreKeys()
    {
        var counts = Enumerable.Range(0, 8_000).GroupBy(i => Winner($"k{i}", ["light", "heavy"], b => b == "heavy" ? 3 : 1)).ToDictionary(g => g.Key, g => g.Count());
        Assert.InRange(counts["heavy"], 5_600, 6_400);
    }
}
