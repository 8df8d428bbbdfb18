using Distributed.Gateway.Pinning;
using Distributed.Gateway.Pools;
using Distributed.Grains.Abstractions;

namespace Distributed.Gateway.Tests.Pinning;

[Trait("Category", "Unit")]
public sealed class PinValidityTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UnixEpoch.AddDays(1);
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(30);

    private static BackendSnapshot Backend(long generation = 3, bool keepsSessions = true) =>
        new("b1", "http://127.0.0.1/b1", 1, BackendState.Active, 0, KeepsSessions: keepsSessions, PinGeneration: generation);

    private static CachedPin Pin(long generation = 3, TimeSpan? age = null, long epoch = 7) =>
        new("b1", epoch, generation, Now - (age ?? TimeSpan.FromSeconds(10)));

    [Fact]
    public void IsUsable_SameGenerationConfirmedRecently_IsUsed() =>
        Assert.True(PinValidity.IsUsable(Pin(), Backend(), Now, Ttl, clusterUnreachable: false));

    [Fact]
    public void IsUsable_BackendStoppedKeepingSessionsSinceThePinWasCached_IsCheckedWithTheGrain()
    {
        // The backend was unusable for a while (its generation moved on) and is back: another gateway may have moved
        // the session meanwhile, even though this gateway never saw the backend unusable.
        Assert.False(PinValidity.IsUsable(Pin(generation: 3), Backend(generation: 4), Now, Ttl, clusterUnreachable: false));
        Assert.False(PinValidity.IsUsable(Pin(generation: 3), Backend(generation: 4), Now, Ttl, clusterUnreachable: true));
    }

    [Fact]
    public void IsUsable_BackendNotKeepingSessions_IsNotUsed() =>
        Assert.False(PinValidity.IsUsable(Pin(), Backend(keepsSessions: false), Now, Ttl, clusterUnreachable: true));

    [Fact]
    public void IsUsable_NotConfirmedForASessionTtl_IsCheckedUnlessTheClusterIsUnreachable()
    {
        // The session may have lapsed cluster-wide and been pinned afresh elsewhere; when nobody can be asked, the stale
        // pin is still the best answer (fail-static).
        Assert.True(PinValidity.IsUsable(Pin(age: Ttl - TimeSpan.FromSeconds(1)), Backend(), Now, Ttl, clusterUnreachable: false));
        Assert.False(PinValidity.IsUsable(Pin(age: Ttl), Backend(), Now, Ttl, clusterUnreachable: false));
        Assert.True(PinValidity.IsUsable(Pin(age: Ttl), Backend(), Now, Ttl, clusterUnreachable: true));
    }

    [Fact]
    public void IsUsable_ProvisionalPin_IsUsedAndReconciledInTheBackground() =>
        Assert.True(PinValidity.IsUsable(new CachedPin("b1", -1, 3, DateTimeOffset.MinValue), Backend(), Now, Ttl, clusterUnreachable: false));
}
