using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Distributed.Topology;

namespace Distributed.Integration.Tests;

/// <summary>Passive health counts gateway failures only, and clients cannot reach a backend's fault switches.</summary>
[Trait("Category", "Integration")]
[Collection(OperationsTopology.Name)]
public sealed class PassiveHealthTests(OperationsTopologyFixture fixture, ITestOutputHelper output) : ProcessTest(output)
{
    [Fact]
    public async Task BackendAnswering500s_IsNotEjected_ForAClientCanProvokeThem()
    {
        // Pool "passive" ejects after 3 failures in a row; b1 now answers every request with 500.
        await fixture.EchoAsync("b1", "/_echo/fail?requests=true");
        try
        {
            var answers = new List<(int Status, string? Backend)>();
            for (var i = 0; i < 30; i++)
            {
                answers.Add(await fixture.SendAsync(i % 2, "/p/x"));
            }

            // The 500s reached the client, as the backend meant them.
            Assert.Contains((500, "b1"), answers);
            Assert.True(answers.Count(a => a.Backend == "b1") >= 3, "b1 got fewer requests than it takes to eject it");

            // Once both gateways have reported after the last answer (plus one report interval, for outcomes recorded
            // just after the answer was sent), the failures have been counted: b1 is still in rotation.
            var answered = DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(200);
            await Wait.UntilAsync(
                async () => (await GatewayReportsAsync()).All(r => r > answered) && (await GatewayReportsAsync()).Count == 2,
                TimeSpan.FromSeconds(10),
                "both gateways to report after the last request");
            var b1 = (await fixture.BackendsAsync("passive")).Single(b => b.Id == "b1");
            Assert.Equal("Healthy", b1.Health);
            Assert.True(b1.AcceptsNewSessions, "a backend answering 500 was taken out of rotation by passive health");
        }
        finally
        {
            await fixture.EchoAsync("b1", "/_echo/reset");
        }
    }

    private async Task<List<DateTimeOffset>> GatewayReportsAsync()
    {
        using var request = fixture.Admin(HttpMethod.Get, "/admin/pools/passive");
        using var response = await fixture.Http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        var pool = await response.Content.ReadFromJsonAsync<JsonElement>();
        return [.. pool.GetProperty("gateways").EnumerateArray().Select(g => g.GetProperty("lastReport").GetDateTimeOffset())];
    }

    [Fact]
    public async Task FaultSwitches_AreOffUnlessEnabled_SoNoClientCanFailABackendThroughAGateway()
    {
        var port = FreePorts.Next(1)[0];
        await using var backend = await EchoBackendProcess.StartEchoAsync("b9", port, faultInjection: false);
        var address = new Uri($"http://127.0.0.1:{port}/");

        using (var fail = await fixture.Http.PostAsync(new Uri(address, "/_echo/fail?requests=true&health=true"), null))
        {
            // The path is an ordinary echo now: it switches nothing.
            Assert.Equal(HttpStatusCode.OK, fail.StatusCode);
            Assert.Equal("b9\n", await fail.Content.ReadAsStringAsync());
        }

        using var health = await fixture.Http.GetAsync(new Uri(address, "/healthz"));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        using var echo = await fixture.Http.GetAsync(new Uri(address, "/x"));
        Assert.Equal(HttpStatusCode.OK, echo.StatusCode);
    }
}
