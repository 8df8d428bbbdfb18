using System.Net;
using Distributed.Topology;

namespace Distributed.Chaos.Tests;

/// <summary>A backend killed with SIGKILL: what happens to the requests of sessions pinned to it.</summary>
[Trait("Category", "Chaos")]
public sealed class BackendFailureTests(ITestOutputHelper output) : ProcessTest(output)
{
    [Fact]
    public async Task PinnedBackendKilled_IdempotentRequestIsRetriedOnAnotherBackendAndABodyRequestIsNot()
    {
        await using var topology = await LocalTopology.StartAsync(new TopologyOptions { Silos = 1, Gateways = 1, Backends = 2 });
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var gateway = topology.Gateways[0];

        async Task<HttpResponseMessage> SendAsync(HttpMethod method, string key, HttpContent? content = null)
        {
            using var request = new HttpRequestMessage(method, new Uri(gateway.Address, "/orders")) { Content = content };
            request.Headers.Add("X-Session-Id", key);
            return await http.SendAsync(request);
        }

        // A session pinned to b1 (new sessions spread over both backends, so a few keys find one).
        string? onB1 = null;
        for (var i = 0; i < 100 && onB1 is null; i++)
        {
            using var response = await SendAsync(HttpMethod.Get, $"victim-{i}");
            if (response.Headers.GetValues("X-Backend-Id").Single() == "b1")
            {
                onB1 = $"victim-{i}";
            }
        }

        Assert.NotNull(onB1);
        topology.Kill("b1");
        await topology.Backends[0].Process.WaitForExitAsync();

        using (var retried = await SendAsync(HttpMethod.Get, onB1))
        {
            Assert.True(retried.StatusCode == HttpStatusCode.OK, $"Expected a retry on b2, got {(int)retried.StatusCode}.");
            Assert.Equal("b2", retried.Headers.GetValues("X-Backend-Id").Single());
        }

        using (var notRetried = await SendAsync(HttpMethod.Post, onB1, new StringContent("{\"item\":42}")))
        {
            Assert.Equal(HttpStatusCode.BadGateway, notRetried.StatusCode);
        }
    }
}
