using Distributed.Gateway.Configuration;
using Distributed.Gateway.Pools;
using Distributed.Gateway.Tests.Fakes;
using Distributed.Grains.Abstractions;
using Microsoft.AspNetCore.Http;
using static Distributed.Gateway.Tests.Fakes.ViewFactory;

namespace Distributed.Gateway.Tests.Pools;

[Trait("Category", "Unit")]
public sealed class BalancingPolicyTests
{
    private readonly ViewFactory _views = new();

    private static BalancingPolicy Policy(BalancingPolicyKind kind, string? hashKey = null) =>
        BalancingPolicy.Create(new PoolOptions { Policy = kind, HashKey = hashKey });

    public static TheoryData<BalancingPolicyKind> AllPolicies => [.. Enum.GetValues<BalancingPolicyKind>()];

    [Theory]
    [MemberData(nameof(AllPolicies))]
    public void Choose_DrainingUnhealthyAndFullBackends_AreNeverChosenByAnyPolicy(BalancingPolicyKind kind)
    {
        var view = _views.View(
            Backend("a", state: BackendState.Draining),
            Backend("b", inFlight: 4, maxInFlight: 4),
            Backend("c", healthy: false),
            Backend("d", inFlight: 30, weight: 1),
            Backend("e", state: BackendState.Draining, healthy: false));
        var policy = Policy(kind, kind == BalancingPolicyKind.Hash ? "Header:X-User" : null);
        var random = new Random(5);

        for (var i = 0; i < 300; i++)
        {
            Assert.Equal("d", policy.Choose(view, sessionKey: $"s{i}", requestKey: $"u{i}", excludedId: null, random)!.Id);
            Assert.Equal("d", policy.Choose(view, sessionKey: null, requestKey: null, excludedId: null, random)!.Id);
        }

        Assert.Null(policy.Choose(view, "s", "u", excludedId: "d", random));
    }

    [Theory]
    [InlineData(BalancingPolicyKind.RoundRobin)]
    [InlineData(BalancingPolicyKind.WeightedRoundRobin)]
    public void Choose_RoundRobin_GivesEveryBackendExactlyItsEffectiveWeightedShareWhateverTheLoad(BalancingPolicyKind kind)
    {
        // b ramps (slow start) at half its weight 4; c is busy, which round robin does not look at.
        var view = _views.View(Backend("a", weight: 2), Backend("b", weight: 4, effectiveWeight: 2), Backend("c", weight: 1, inFlight: 50));
        var policy = Policy(kind);
        var counts = new Dictionary<string, int>();
        for (var i = 0; i < 5_000; i++)
        {
            var id = policy.Choose(view, sessionKey: i % 2 == 0 ? $"s{i}" : null, null, null, new Random(i))!.Id;
            counts[id] = counts.GetValueOrDefault(id) + 1;
        }

        Assert.Equal(2_000, counts["a"]);
        Assert.Equal(2_000, counts["b"]);
        Assert.Equal(1_000, counts["c"]);
    }

    [Fact]
    public void Choose_Hash_SameKeySameBackendOnEveryGatewayAndOnlyAboutAQuarterMovesWhenAFourthBackendArrives()
    {
        var three = _views.View(Backend("b1"), Backend("b2"), Backend("b3"));
        var four = _views.View(Backend("b1"), Backend("b2"), Backend("b3"), Backend("b4"));
        BalancingPolicy gatewayA = Policy(BalancingPolicyKind.Hash, "ClientIp"), gatewayB = Policy(BalancingPolicyKind.Hash, "ClientIp");
        var moved = 0;
        const int Keys = 4_000;
        for (var i = 0; i < Keys; i++)
        {
            var ip = $"10.0.{i / 256}.{i % 256}";
            var before = gatewayA.Choose(three, sessionKey: null, ip, null, new Random(i))!.Id;
            Assert.Equal(before, gatewayB.Choose(three, sessionKey: $"other-{i}", ip, null, new Random(i + 1))!.Id);
            var after = gatewayB.Choose(four, sessionKey: null, ip, null, new Random(i))!.Id;
            if (after != before)
            {
                Assert.Equal("b4", after); // keys only ever move to the new backend
                moved++;
            }
        }

        Assert.InRange(moved, Keys / 4 * 0.9, Keys / 4 * 1.1);
    }

    [Fact]
    public void Guess_HashOverARequestProperty_IsWhereThePolicyPlacedTheSession()
    {
        var view = _views.View(Backend("b1"), Backend("b2"), Backend("b3"));
        var policy = Policy(BalancingPolicyKind.Hash, "Header:X-Tenant");
        for (var i = 0; i < 500; i++)
        {
            var placed = policy.Choose(view, sessionKey: $"cookie-{i}", requestKey: $"tenant-{i % 40}", null, new Random(i))!;
            Assert.Same(placed, policy.Guess(view, $"cookie-{i}", $"tenant-{i % 40}"));
        }
    }

    [Fact]
    public void Choose_HashRequestWithoutTheProperty_IsBalancedAsByLeastLoaded()
    {
        var view = _views.View(Backend("b1", inFlight: 40), Backend("b2"), Backend("b3", inFlight: 3));
        var policy = Policy(BalancingPolicyKind.Hash, "Header:X-Tenant");
        for (var i = 0; i < 200; i++)
        {
            Assert.NotEqual("b1", policy.Choose(view, sessionKey: null, requestKey: null, null, new Random(i))!.Id);

            // A new session without the property is placed by its session key, where a cold gateway's guess looks.
            Assert.Same(view.Place($"s{i}", new PoolOptions().BalanceFactor), policy.Choose(view, $"s{i}", requestKey: null, null, new Random(i)));
            Assert.Same(view.Guess($"s{i}"), policy.Guess(view, $"s{i}", requestKey: null));
        }
    }

    [Fact]
    public void FirstAvailable_ChoosesAndGuessesTheFirstActiveBackendAndFallsBackInOrder()
    {
        var policy = Policy(BalancingPolicyKind.FirstAvailable);
        var view = _views.View(Backend("standby-2"), Backend("primary", inFlight: 500), Backend("standby-1"));
        Assert.Equal("primary", policy.Choose(view, "s", null, null, new Random(1))!.Id);
        Assert.Equal("primary", policy.Guess(view, "s", null)!.Id);

        var primaryDown = _views.View(Backend("standby-2"), Backend("primary", healthy: false), Backend("standby-1"));
        Assert.Equal("standby-1", policy.Choose(primaryDown, "s", null, null, new Random(1))!.Id);
        Assert.Equal("standby-1", policy.Guess(primaryDown, "s", null)!.Id);

        var primaryFull = _views.View(Backend("standby-2"), Backend("primary", inFlight: 3, maxInFlight: 3), Backend("standby-1"));
        Assert.Equal("standby-1", policy.Choose(primaryFull, "s", null, null, new Random(1))!.Id);
    }

    [Fact]
    public void Choose_LeastLoadedNewSession_IsTheBoundedLoadPlacementItAlwaysWas()
    {
        var view = _views.View(Backend("b1", inFlight: 3), Backend("b2"), Backend("b3", inFlight: 1));
        var policy = Policy(BalancingPolicyKind.LeastLoaded);
        for (var i = 0; i < 300; i++)
        {
            Assert.Same(view.Place($"user-{i}", new PoolOptions().BalanceFactor), policy.Choose(view, $"user-{i}", requestKey: "ignored", null, new Random(i)));
            Assert.Same(view.Guess($"user-{i}"), policy.Guess(view, $"user-{i}", "ignored"));
        }
    }

    [Theory]
    [InlineData("ClientIp", "203.0.113.9")]
    [InlineData("Header:X-Tenant", "acme")]
    [InlineData("Cookie:tenant", "blue")]
    [InlineData("Path", "/orders/42")]
    public void RequestKey_ReadsTheConfiguredProperty(string hashKey, string expected)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = System.Net.IPAddress.Parse("::ffff:203.0.113.9");
        context.Request.Headers["X-Tenant"] = "acme";
        context.Request.Headers.Cookie = "tenant=blue";
        context.Request.Path = "/orders/42";
        context.Request.QueryString = new QueryString("?page=2");

        Assert.Equal(expected, Policy(BalancingPolicyKind.Hash, hashKey).RequestKey(context));
        Assert.Null(Policy(BalancingPolicyKind.Hash, "Header:X-Absent").RequestKey(context));
        Assert.Null(Policy(BalancingPolicyKind.RoundRobin).RequestKey(context));
    }
}
