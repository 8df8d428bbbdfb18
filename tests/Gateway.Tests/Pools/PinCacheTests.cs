using Distributed.Gateway.Pools;
using Distributed.Gateway.Tests.Fakes;

namespace Distributed.Gateway.Tests.Pools;

[Trait("Category", "Unit")]
public sealed class PinCacheTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private static CachedPin Pin(string backend = "b1", long epoch = 1) => new(backend, epoch, 10, Now);

    [Fact]
    public void Offer_NeverReplacesAPinWithAHigherEpochButReplacesGuessesAndOlderPins()
    {
        var cache = new PinCache(100, TimeSpan.FromMinutes(5));
        cache.Set("k", Pin("b1", epoch: -1)); // a guess
        Assert.True(cache.Offer("k", Pin("b2", epoch: 0))); // a cookie's or written-behind pin beats a guess
        Assert.True(cache.Offer("k", Pin("b2", epoch: 4)));
        Assert.False(cache.Offer("k", Pin("b3", epoch: 3))); // a late answer
        Assert.True(cache.Offer("k", Pin("b2", epoch: 4) with { ConfirmedAt = Now.AddMinutes(1) })); // the same pin, confirmed again

        Assert.Equal(Pin("b2", epoch: 4) with { ConfirmedAt = Now.AddMinutes(1) }, cache.Get("k"));
        cache.Set("k", Pin("b1", epoch: -1)); // Set is for what the request path knows replaces it
        Assert.Equal(-1, cache.Get("k")!.Epoch);
    }

    [Fact]
    public void IsDue_EveryPinBetweenThreeQuartersOfTheIntervalAndAllOfIt()
    {
        var cache = new PinCache(100, TimeSpan.FromMinutes(4));
        var keys = Enumerable.Range(0, 1_000).Select(i => $"user-{i}").ToList();

        Assert.DoesNotContain(keys, k => cache.IsDue(k, Pin(), Now.AddMinutes(3) - TimeSpan.FromTicks(1)));
        Assert.All(keys, k => Assert.True(cache.IsDue(k, Pin(), Now.AddMinutes(4))));
        Assert.All(keys, k => Assert.True(cache.IsDue(k, Pin(), Now.AddHours(1))));

        // Once due, a pin stays due until it is confirmed again.
        var key = keys.First(k => !cache.IsDue(k, Pin(), Now.AddMinutes(3.5)));
        var dueAt = Now.AddMinutes(3.5);
        while (!cache.IsDue(key, Pin(), dueAt))
        {
            dueAt = dueAt.AddSeconds(1);
        }

        Assert.All(Enumerable.Range(0, 30), s => Assert.True(cache.IsDue(key, Pin(), dueAt.AddSeconds(s))));
    }

    [Fact]
    public void IsDue_PinsConfirmedAtOneMoment_ComeDueSpreadOverTheLastQuarterOfTheInterval()
    {
        // A warm-up or a burst caches many pins at one instant: their confirmations must not all fall due in the same
        // second (a wave of grain calls and storage writes that stalls requests), but spread over 60 s here.
        var cache = new PinCache(100, TimeSpan.FromMinutes(4));
        var keys = Enumerable.Range(0, 10_000).Select(i => $"user-{i}").ToList();
        var dueBySecond = new int[61];
        foreach (var key in keys)
        {
            var second = Enumerable.Range(0, 61).First(s => cache.IsDue(key, Pin(), Now.AddMinutes(3).AddSeconds(s)));
            dueBySecond[second]++;
        }

        // Uniform over 60 s: about 167 a second. Binomial spread over 10,000 keys keeps every second well under 3x that.
        Assert.True(dueBySecond.Max() < 500, $"The busiest second had {dueBySecond.Max()} of 10,000 pins due.");
        Assert.InRange(dueBySecond.Take(30).Sum(), 4_000, 6_000);
    }

    [Fact]
    public void Remove_WithAPin_OnlyRemovesThatPin()
    {
        var cache = new PinCache(100, TimeSpan.FromMinutes(5));
        var old = Pin("b1", 1);
        cache.Set("k", old);
        var newer = Pin("b2", 2);
        cache.Set("k", newer);

        cache.Remove("k", old);
        Assert.Same(newer, cache.Get("k"));
        cache.Remove("k", newer);
        Assert.Null(cache.Get("k"));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public async Task Set_AFloodOfOneShotSessionsPastTheCap_NeverHoldsMoreAndKeepsThePinsInUse()
    {
        const int Cap = 1_000;
        var cache = new PinCache(Cap, TimeSpan.FromMinutes(5));
        for (var i = 0; i < Cap; i++)
        {
            cache.Set($"k{i}", Pin());
            if (i < 100)
            {
                cache.Get($"k{i}"); // returning users, from the start
            }
        }

        for (var i = Cap; i < 5 * Cap; i++)
        {
            for (var hot = 0; hot < 100; hot++)
            {
                cache.Get($"k{hot}"); // returning users
            }

            cache.Set($"flood{i}", Pin());
            Assert.InRange(cache.Count, 0, Cap);
        }

        await GatewayHarness.EventuallyAsync(() => cache.Count < Cap, "a sweep to make room");
        Assert.All(Enumerable.Range(0, 100), hot => Assert.NotNull(cache.Get($"k{hot}")));
        Assert.True(cache.Offer("late", Pin()), "a new key is cached again once there is room");
    }
}
