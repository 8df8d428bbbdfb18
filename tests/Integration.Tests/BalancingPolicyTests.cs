using System.Net;
using Distributed.Topology;

namespace Distributed.Integration.Tests;

/// <summary>Each balancing policy through two real gateways (pools <c>rr</c>, <c>random</c>, <c>hash</c>, <c>first</c>).</summary>
[Trait("Category", "Integration")]
[Collection(OperationsTopology.Name)]
public sealed class BalancingPolicyTests(OperationsTopologyFixture fixture, ITestOutputHelper output) : ProcessTest(output)
{
    private LocalTopology Topology => fixture.Topology;

    [Fact]
    public async Task WeightedRoundRobin_ThroughEachGateway_GivesExactlyTheWeightedSharesInterleaved()
    {
        // Weights 3:1:1. Round robin is per gateway, so each gateway's own sequence is exact and smooth.
        for (var gateway = 0; gateway < 2; gateway++)
        {
            var picks = new List<string>();
            for (var i = 0; i < 250; i++)
            {
                picks.Add(await SendAsync(gateway, "/rr/x"));
            }

            var shares = string.Join(", ", picks.GroupBy(p => p).OrderBy(g => g.Key).Select(g => $"{g.Key}={g.Count()}"));
            Assert.Equal("b1=150, b2=50, b3=50", shares);
            for (var start = 0; start + 5 <= picks.Count; start++)
            {
                Assert.Equal(3, picks.Skip(start).Take(5).Count(p => p == "b1"));
            }
        }
    }

    [Fact]
    public async Task Random_ThroughBothGateways_DrawsInProportionToWeight()
    {
        var picks = new List<string>();
        for (var i = 0; i < 600; i++)
        {
            picks.Add(await SendAsync(i % 2, "/random/x"));
        }

        // Expected 360 / 120 / 120; the bounds are about five standard deviations.
        Assert.InRange(picks.Count(p => p == "b1"), 300, 420);
        Assert.InRange(picks.Count(p => p == "b2"), 70, 170);
        Assert.InRange(picks.Count(p => p == "b3"), 70, 170);
    }

    [Fact]
    public async Task Hash_OverATenantHeader_PutsEveryNewSessionAndKeylessRequestOfATenantOnOneBackendOnBothGateways()
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var byTenant = new Dictionary<string, HashSet<string>>();
        for (var t = 0; t < 30; t++)
        {
            var tenant = $"tenant-{run}-{t}";
            var seen = byTenant[tenant] = [];
            for (var s = 0; s < 4; s++)
            {
                seen.Add(await SendAsync(s % 2, "/hash/x", ("X-Tenant", tenant), ("X-Session-Id", $"{tenant}-s{s}")));
            }

            seen.Add(await SendAsync(0, "/hash/x", ("X-Tenant", tenant)));
            seen.Add(await SendAsync(1, "/hash/x", ("X-Tenant", tenant)));
        }

        Assert.All(byTenant, t => Assert.True(t.Value.Count == 1, $"{t.Key} went to {string.Join(", ", t.Value)}"));
        Assert.Equal(3, byTenant.Values.Select(v => v.Single()).Distinct().Count()); // tenants spread over the pool
    }

    [Fact]
    public async Task FirstAvailable_SendsEverythingToTheFirstBackendAndFallsBackInOrderWhenItIsDrained()
    {
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("b1", await SendAsync(i % 2, "/first/x"));
        }

        using (var drain = fixture.Admin(HttpMethod.Post, "/admin/pools/first/backends/b1/drain", new { timeout = "00:00:01" }))
        using (var response = await fixture.Http.SendAsync(drain))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await Wait.UntilAsync(
            async () => await SendAsync(0, "/first/x") == "b2" && await SendAsync(1, "/first/x") == "b2",
            TimeSpan.FromSeconds(3),
            "both gateways to move the first-available pool to b2");
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("b2", await SendAsync(i % 2, "/first/x"));
        }
    }

    private async Task<string> SendAsync(int gateway, string path, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Topology.Gateways[gateway].Address, path));
        foreach (var (name, value) in headers)
        {
            request.Headers.Add(name, value);
        }

        using var response = await fixture.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response.Headers.GetValues("X-Backend-Id").Single();
    }
}
