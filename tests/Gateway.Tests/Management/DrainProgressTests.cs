using Distributed.Gateway.Management;
using Distributed.Grains.Abstractions;

namespace Distributed.Gateway.Tests.Management;

[Trait("Category", "Unit")]
public sealed class DrainProgressTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(30);

    private static BackendSnapshot Draining(int inFlight = 0, TimeSpan? deadlineIn = null) =>
        new("b1", "http://127.0.0.1:5001/", 1, BackendState.Draining, inFlight, DrainDeadline: Now + (deadlineIn ?? TimeSpan.FromMinutes(5)));

    private static SessionPage Sessions(int total, TimeSpan trackedFor) => new([], null, total, Now - trackedFor);

    [Fact]
    public void Of_ListRestartedLessThanATtlAgoAndEmpty_IsUnknownNotSafe()
    {
        // The silo holding b1's session list crashed a minute ago: the list is empty because it forgot, not because
        // the sessions left.
        var progress = DrainProgress.Of(Draining(), Sessions(0, TimeSpan.FromMinutes(1)), Ttl, Now);

        Assert.Null(progress.SafeToRemove);
        Assert.False(progress.SessionsKnown);
        Assert.Equal(0, progress.RemainingSessions);
    }

    [Fact]
    public void Of_ListCompleteAndEmpty_IsSafeOnceNothingIsInFlight()
    {
        Assert.True(DrainProgress.Of(Draining(), Sessions(0, Ttl), Ttl, Now).SafeToRemove);
        Assert.False(DrainProgress.Of(Draining(inFlight: 2), Sessions(0, Ttl), Ttl, Now).SafeToRemove);
    }

    [Fact]
    public void Of_SessionsListed_IsNotSafeWhetherOrNotTheListIsComplete()
    {
        Assert.Equal(new DrainProgress(3, false, false), DrainProgress.Of(Draining(), Sessions(3, TimeSpan.FromMinutes(1)), Ttl, Now));
        Assert.Equal(new DrainProgress(3, false, true), DrainProgress.Of(Draining(), Sessions(3, Ttl * 2), Ttl, Now));
    }

    [Fact]
    public void Of_DeadlinePassed_NothingRemainsWhateverTheList()
    {
        var progress = DrainProgress.Of(Draining(deadlineIn: TimeSpan.Zero), Sessions(40, TimeSpan.FromMinutes(1)), Ttl, Now);
        Assert.Equal(0, progress.RemainingSessions);
        Assert.True(progress.SafeToRemove);
    }

    [Fact]
    public void Of_NotDraining_IsNotSafeToRemove()
    {
        var active = new BackendSnapshot("b1", "http://127.0.0.1:5001/", 1, BackendState.Active, 0);
        Assert.Equal(new DrainProgress(null, false, true), DrainProgress.Of(active, Sessions(0, Ttl), Ttl, Now));
    }
}
