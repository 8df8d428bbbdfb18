using System.Collections.Immutable;
using Distributed.Gateway.Tests.Fakes;
using Distributed.Grains.Abstractions;
using static Distributed.Gateway.Tests.Fakes.GatewayHarness;

namespace Distributed.Gateway.Tests.Pools;

[Trait("Category", "Unit")]
public sealed class PoolRuntimeTests
{
    private static readonly DateTimeOffset Made = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private static PoolSnapshot Catalog(long version, DateTimeOffset generatedAt, bool b1AcceptsNew) =>
        Snapshot(Backend("b1", acceptsNew: b1AcceptsNew), Backend("b2"), Backend("b3")) with { RegistryVersion = version, GeneratedAt = generatedAt };

    [Fact]
    public void Apply_AnswerMadeBeforeTheAdoptedChange_DoesNotTakeTheViewBack()
    {
        using var gateway = new GatewayHarness();
        var drained = Catalog(version: 8, Made.AddMilliseconds(30), b1AcceptsNew: false);
        gateway.Pool.Apply(drained, [], gateway.Time.GetUtcNow());

        // A report answered just before the drain arrives after the admin call adopted it.
        gateway.Pool.Apply(Catalog(version: 7, Made, b1AcceptsNew: true), ImmutableArray<BackendLoad>.Empty, gateway.Time.GetUtcNow());

        Assert.Same(drained, gateway.Pool.View.Snapshot);
        Assert.False(gateway.Pool.View.Find("b1")!.AcceptsNew);
    }

    [Fact]
    public void Apply_PoolSeededAgainAfterItsStoreLostTheData_IsAdoptedThoughItsCatalogVersionStartsAfresh()
    {
        using var gateway = new GatewayHarness();
        gateway.Pool.Apply(Catalog(version: 40, Made, b1AcceptsNew: false), [], gateway.Time.GetUtcNow());

        var reseeded = Catalog(version: 1, Made.AddSeconds(5), b1AcceptsNew: true);
        gateway.Pool.Apply(reseeded, [], gateway.Time.GetUtcNow());

        Assert.Same(reseeded, gateway.Pool.View.Snapshot);
        Assert.True(gateway.Pool.View.Find("b1")!.AcceptsNew);
    }

    [Fact]
    public void Apply_SameCatalogMadeLater_IsAdopted()
    {
        using var gateway = new GatewayHarness();
        gateway.Pool.Apply(Catalog(version: 3, Made, b1AcceptsNew: true), [], gateway.Time.GetUtcNow());

        var later = Catalog(version: 3, Made.AddMilliseconds(200), b1AcceptsNew: false);
        gateway.Pool.Apply(later, [], gateway.Time.GetUtcNow());

        Assert.Same(later, gateway.Pool.View.Snapshot);
    }
}
