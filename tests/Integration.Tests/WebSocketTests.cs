using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using System.Text;
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
            // Both gateways' views must include the other's sockets, or one still sees b1 at half its load.
            await Wait.UntilAsync(
                async () => (await fixture.BackendsAsync("ws", gateway: 0)).Single(b => b.Id == "b1").ClusterInFlight >= onB1.Count
                    && (await fixture.BackendsAsync("ws", gateway: 1)).Single(b => b.Id == "b1").ClusterInFlight >= onB1.Count,
                TimeSpan.FromSeconds(3),
                "both gateways to count all open WebSockets in flight on b1");
            for (var i = 0; i < 30; i++)
            {
                Assert.NotEqual("b1", (await fixture.SendAsync(i % 2, "/ws/x", $"ws-new-{run}-{i}")).Backend);
            }

            // Drained with a deadline: the sockets stay usable until it, then get a close frame.
            var deadline = TimeSpan.FromSeconds(2);
            using (var drain = fixture.Admin(HttpMethod.Post, "/admin/pools/ws/backends/b1/drain", new { timeout = "00:00:02" }))
            using (var response = await fixture.Http.SendAsync(drain))
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }

            var drained = Stopwatch.StartNew();
            Assert.Equal("still here", await EchoAsync(sockets[0], "still here"));
            Assert.True(drained.Elapsed < deadline, "The check before the deadline came too late to mean anything.");

            foreach (var socket in sockets)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                var received = await socket.ReceiveAsync(new byte[256], timeout.Token);
                Assert.Equal(WebSocketMessageType.Close, received.MessageType);
                Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, socket.CloseStatus);
                Assert.Equal("backend drained", socket.CloseStatusDescription);
            }

            Assert.True(drained.Elapsed >= deadline - TimeSpan.FromMilliseconds(300), $"Closed {drained.Elapsed} after the drain, before its deadline.");
            await Wait.UntilAsync(
                () => Task.FromResult(Topology.Gateways.All(g => g.Process!.RecentOutput().Contains("closing a WebSocket to b1 (backend drained)", StringComparison.Ordinal))),
                TimeSpan.FromSeconds(3),
                "both gateways to log the closes");
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

    private static async Task<string> EchoAsync(ClientWebSocket socket, string text)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
        var buffer = new byte[1024];
        var received = await socket.ReceiveAsync(buffer, timeout.Token);
        return Encoding.UTF8.GetString(buffer, 0, received.Count);
    }
}
