using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Distributed.Topology;

namespace Distributed.Integration.Tests;

/// <summary>Real WebSocket clients through both gateways to the echo backends (pool <c>ws</c>).</summary>
[Trait("Category", "Integration")]
[Collection(OperationsTopology.Name)]
public sealed class WebSocketTests(OperationsTopologyFixture fixture, ITestOutputHelper output) : ProcessTest(output)
{
    private LocalTopology Topology => fixture.Topology;

    [Fact]
    public async Task WebSockets_FollowTheirPinCountInFlightClusterWideSteerNewSessionsAwayAndCloseAfterTheDrainDeadline()
    {
        // Sessions pinned to b1 by plain requests.
        var run = Guid.NewGuid().ToString("N")[..8];
        var onB1 = new List<string>();
        for (var i = 0; onB1.Count < 10; i++)
        {
            Assert.True(i < 200, "Too few new sessions landed on b1.");
            var key = $"ws-{run}-{i}";
            if (await fixture.SendAsync(i % 2, "/ws/x", key) is (200, "b1"))
            {
                onB1.Add(key);
            }
        }

        // Their WebSockets, opened through either gateway, go to the pin.
        var sockets = new List<ClientWebSocket>();
        try
        {
            for (var i = 0; i < onB1.Count; i++)
            {
                var socket = new ClientWebSocket();
                sockets.Add(socket);
                socket.Options.SetRequestHeader("X-Session-Id", onB1[i]);
                socket.Options.CollectHttpResponseDetails = true;
                var gateway = Topology.Gateways[i % 2].Address;
                await socket.ConnectAsync(new Uri($"ws://{gateway.Authority}/ws/chat"), CancellationToken.None);
                Assert.Equal("b1", socket.HttpResponseHeaders!["X-Backend-Id"].Single());
                Assert.Equal($"hello {i}", await EchoAsync(socket, $"hello {i}"));
            }

            // Open tunnels are in flight on b1 for the whole cluster (both gateways' counts), so new sessions avoid it.
            // Both gateways' views must include the other's sockets, or one still sees b1 at half its load: the pool
            // grain counts them all (the admin API asks it), and each gateway's view has them once it has taken the
            // answer to a report made after that (the second report since, on a busy machine where rounds run late).
            await Wait.UntilAsync(
                async () => (await fixture.BackendsAsync("ws", gateway: 0)).Single(b => b.Id == "b1").ClusterInFlight >= onB1.Count
                    && (await fixture.BackendsAsync("ws", gateway: 1)).Single(b => b.Id == "b1").ClusterInFlight >= onB1.Count,
                TimeSpan.FromSeconds(3),
                "both gateways to count all open WebSockets in flight on b1");
            await AfterTwoReportsAsync("ws", DateTimeOffset.UtcNow);
            for (var i = 0; i < 30; i++)
            {
                Assert.NotEqual("b1", (await fixture.SendAsync(i % 2, "/ws/x", $"ws-new-{run}-{i}")).Backend);
            }

            // Drained with a deadline: the sockets stay usable until it, then get a close frame. The deadline starts when
            // the pool grain takes the drain, after the request left and before its answer arrives (which can lag by
            // hundreds of milliseconds on a busy machine), so it is timed from the request.
            var deadline = TimeSpan.FromSeconds(2);
            var drained = Stopwatch.StartNew();
            using (var drain = fixture.Admin(HttpMethod.Post, "/admin/pools/ws/backends/b1/drain", new { timeout = "00:00:02" }))
            using (var response = await fixture.Http.SendAsync(drain))
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }

            Assert.Equal("still here", await EchoAsync(sockets[0], "still here"));
            Assert.True(drained.Elapsed < deadline, "The check before the deadline came too late to mean anything.");

            // Every socket's close, each timed as it arrives (receiving in parallel, so none waits behind another).
            var closes = await Task.WhenAll(sockets.Select(async socket =>
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                var received = await socket.ReceiveAsync(new byte[256], timeout.Token);
                return (received.MessageType, At: drained.Elapsed);
            }));
            var closedAt = DateTimeOffset.UtcNow;
            Assert.All(closes, close => Assert.Equal(WebSocketMessageType.Close, close.MessageType));
            Assert.All(sockets, socket => Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, socket.CloseStatus));
            Assert.All(sockets, socket => Assert.Equal("backend drained", socket.CloseStatusDescription));
            var first = closes.Min(c => c.At);
            Assert.True(first >= deadline - TimeSpan.FromMilliseconds(300), $"Closed {first} after the drain, before its deadline.");
            await Wait.UntilAsync(
                () => Task.FromResult(Topology.Gateways.All(g => g.Process!.RecentOutput().Contains("closing a WebSocket to b1 (backend drained)", StringComparison.Ordinal))),
                TimeSpan.FromSeconds(3),
                "both gateways to log the closes");

            // Closed but not answered yet, the tunnels are still open: they stay in flight on b1, as reports that both
            // gateways made after the closes arrived show (the second report after that instant was captured after it).
            await AfterTwoReportsAsync("ws", closedAt);
            Assert.True((await fixture.BackendsAsync("ws")).Single(b => b.Id == "b1").ClusterInFlight >= onB1.Count, "Closing WebSockets left the in-flight count before their tunnels ended.");

            // The clients answer: the close handshake ends every tunnel (none waits for the gateway to abort it), and
            // only then do they leave the count.
            foreach (var socket in sockets)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
            }

            await Wait.UntilAsync(
                async () => (await fixture.BackendsAsync("ws")).Single(b => b.Id == "b1").ClusterInFlight == 0,
                TimeSpan.FromSeconds(10),
                "the ended tunnels to leave b1's in-flight count");
            Assert.All(Topology.Gateways, g => Assert.DoesNotContain("did not finish its close handshake", g.Process!.RecentOutput(), StringComparison.Ordinal));
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Abort();
                socket.Dispose();
            }
        }
    }

    // Waits until every gateway has made two load reports since `since`, as the pool grain records them: the second
    // was captured, and sent, after the gateway took the answer to the first, so its counts and its view are both
    // from after `since`.
    private async Task AfterTwoReportsAsync(string pool, DateTimeOffset since)
    {
        var firsts = new Dictionary<string, DateTimeOffset>();
        await Wait.UntilAsync(
            async () =>
            {
                using var request = fixture.Admin(HttpMethod.Get, $"/admin/pools/{pool}");
                using var response = await fixture.Http.SendAsync(request);
                using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                var reports = body.RootElement.GetProperty("gateways").EnumerateArray()
                    .ToDictionary(g => g.GetProperty("id").GetString()!, g => g.GetProperty("lastReport").GetDateTimeOffset());
                foreach (var (gateway, last) in reports)
                {
                    if (last > since)
                    {
                        firsts.TryAdd(gateway, last);
                    }
                }

                return Topology.Gateways.All(g => firsts.TryGetValue(g.Name, out var first) && reports[g.Name] > first);
            },
            TimeSpan.FromSeconds(5),
            "two load reports from every gateway");
    }

    private static async Task<string> EchoAsync(ClientWebSocket socket, string text)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
        var buffer = new byte[1024];
        var received = await socket.ReceiveAsync(buffer, timeout.Token);
        return Encoding.UTF8.GetString(buffer, 0, received.Count);
    }
}
