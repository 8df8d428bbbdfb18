using Distributed.Grains.Abstractions;
using Distributed.Grains.Health;

namespace Distributed.Grains.Tests.Health;

[Trait("Category", "Unit")]
public sealed class ProbeCounterTests
{
    private static readonly ActiveHealthSettings Settings = ActiveHealthSettings.Default with { Rise = 2, Fall = 3 };

    [Fact]
    public void Record_FreshCounter_HasNoVerdictUntilFallFailuresInARow()
    {
        var counter = new ProbeCounter();
        Assert.False(counter.Record(passed: false, Settings));
        Assert.False(counter.Record(passed: false, Settings));
        Assert.Null(counter.Healthy); // a fresh prober says nothing after one or two failures

        Assert.True(counter.Record(passed: false, Settings));
        Assert.False(counter.Healthy);
    }

    [Fact]
    public void Record_FreshCounter_IsHealthyOnlyAfterRisePassesInARow()
    {
        var counter = new ProbeCounter();
        Assert.False(counter.Record(passed: true, Settings));
        Assert.False(counter.Record(passed: false, Settings)); // the run of passes is broken
        Assert.False(counter.Record(passed: true, Settings));
        Assert.Null(counter.Healthy);

        Assert.True(counter.Record(passed: true, Settings));
        Assert.True(counter.Healthy);
    }

    [Fact]
    public void Record_WithAVerdict_ChangesItOnlyAfterRiseOrFallInARow()
    {
        var counter = new ProbeCounter();
        counter.Record(passed: true, Settings);
        counter.Record(passed: true, Settings);

        Assert.False(counter.Record(passed: false, Settings));
        Assert.False(counter.Record(passed: false, Settings));
        Assert.True(counter.Healthy);
        Assert.True(counter.Record(passed: false, Settings));
        Assert.False(counter.Healthy);
        Assert.Equal(3, counter.Streak);

        Assert.False(counter.Record(passed: true, Settings));
        Assert.True(counter.Record(passed: true, Settings));
        Assert.True(counter.Healthy);
    }

    [Fact]
    public void Reset_ForgetsTheVerdict()
    {
        var counter = new ProbeCounter();
        counter.Record(passed: true, Settings);
        counter.Record(passed: true, Settings);

        counter.Reset();

        Assert.Null(counter.Healthy);
        Assert.False(counter.Record(passed: true, Settings));
    }
}
