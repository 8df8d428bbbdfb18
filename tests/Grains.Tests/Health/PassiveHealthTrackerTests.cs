using Distributed.Grains.Abstractions;
using Distributed.Grains.Health;

namespace Distributed.Grains.Tests.Health;

[Trait("Category", "Unit")]
public sealed class PassiveHealthTrackerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private static readonly PassiveHealthSettings Settings = PassiveHealthSettings.Default;

    [Fact]
    public void ShouldEject_FailuresInARowAcrossReports_ReachTheThreshold()
    {
        var tracker = new PassiveHealthTracker();
        tracker.Record(T0, 3, 3, Settings.Window);
        Assert.False(tracker.ShouldEject(T0, Settings));
        tracker.Record(T0, 2, 2, Settings.Window);
        Assert.True(tracker.ShouldEject(T0, Settings));
    }

    [Fact]
    public void ShouldEject_ASuccessfulReport_EndsTheRun()
    {
        var tracker = new PassiveHealthTracker();
        tracker.Record(T0, 4, 4, Settings.Window);
        tracker.Record(T0, 3, 1, Settings.Window);
        tracker.Record(T0, 2, 2, Settings.Window);
        Assert.Equal(2, tracker.ConsecutiveFailures);
        Assert.False(tracker.ShouldEject(T0, Settings));
    }

    [Fact]
    public void ShouldEject_FailureRateOverEnoughRequests_Ejects()
    {
        var tracker = new PassiveHealthTracker();
        tracker.Record(T0, 10, 4, Settings.Window);
        Assert.False(tracker.ShouldEject(T0, Settings)); // 10 requests: below the minimum of 20
        tracker.Record(T0.AddSeconds(1), 10, 6, Settings.Window);
        Assert.True(tracker.ShouldEject(T0.AddSeconds(1), Settings)); // 10 of 20 failed
    }

    [Fact]
    public void ShouldEject_OldOutcomes_LeaveTheWindow()
    {
        var tracker = new PassiveHealthTracker();
        tracker.Record(T0, 20, 15, Settings.Window);
        tracker.Record(T0.AddSeconds(1), 1, 0, Settings.Window);
        Assert.True(tracker.ShouldEject(T0.AddSeconds(2), Settings));
        Assert.False(tracker.ShouldEject(T0.AddSeconds(11), Settings));
    }

    [Fact]
    public void Record_MoreFailuresThanRequests_IsRejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new PassiveHealthTracker().Record(T0, 1, 2, Settings.Window));

    [Theory]
    [InlineData(1, 30)]
    [InlineData(2, 60)]
    [InlineData(3, 120)]
    [InlineData(5, 300)]
    [InlineData(40, 300)]
    public void EjectionTime_DoublesUpToTheMaximum(int ejections, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), PassiveHealthTracker.EjectionTime(ejections, Settings));

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(3, 1)]
    [InlineData(4, 2)]
    [InlineData(10, 5)]
    public void MaxEjected_IsTheShareButAtLeastOne(int backends, int allowed) =>
        Assert.Equal(allowed, PassiveHealthTracker.MaxEjected(backends, Settings));
}
