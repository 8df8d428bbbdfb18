using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Distributed.Topology;

namespace Distributed.Integration.Tests;

/// <summary>
/// A real gateway process stopped with SIGTERM, phase by phase: readiness, drain with <c>Connection: close</c>, the
/// listener closing while a request is still in flight, a proxied WebSocket closed with a Close frame, and the gateway's
/// load lease released instead of left to run out.
/// </summary>
[Trait("Category", "Integration")]
public sealed class GatewayShutdownTests(ITestOutputHelper output) : ProcessTest(output)
{
    // The product's default drain, and a host shutdown timeout short enough that a connection left open would show.
    private static readonly TimeSpan Drain = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan HostShutdownTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Sigterm_ReadinessFailsAtOnceThenDrainsClosesAndReleasesItsLease()
    {
        await using var topology = await LocalTopology.StartAsync(new TopologyOptions
        {
            Silos = 1,
            Gateways = 2,
            Backends = 2,
            GatewayDrainPeriod = Drain,
            GatewaySettings = new Dictionary<string, string>
            {
                // Long enough that only an explicit release can take the stopped gateway out of the snapshot in time.
                ["Balancer:ReportLease"] = "00:01:00",
                ["shutdownTimeoutSeconds"] = HostShutdownTimeout.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            },
        });
        var staying = topology.Gateways[0];
        var leaving = topology.Gateways[1];
        using var http = new HttpClient(new SocketsHttpHandler { UseCookies = false }) { Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", topology.AdminApiKey);
        await Wait.UntilAsync(async () => (await LeaseholdersAsync(http, staying)).SetEquals(["gateway1", "gateway2"]), TimeSpan.FromSeconds(10), "both gateways to hold a load lease");

        using (var before = await GetAsync(http, leaving, "steady"))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
            Assert.NotEqual(true, before.Headers.ConnectionClose);
        }

        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://{leaving.Host}:{leaving.Port}/_echo/ws"), CancellationToken.None);
        Assert.Equal("hello", await EchoAsync(socket, "hello"));
        var goodbye = ReceiveCloseAsync(socket);

        // Still in flight when the drain ends and the listener closes.
        var inFlight = GetAsync(http, leaving, "slow", delay: Drain + TimeSpan.FromSeconds(2));

        var process = leaving.Process!;
        var clock = Stopwatch.StartNew();
        var stopped = process.StopAsync(TimeSpan.FromSeconds(60));

        // 1. Out of rotation at once, while still serving: each response closes its connection.
        await Wait.UntilAsync(async () => await ReadinessAsync(http, leaving) == HttpStatusCode.ServiceUnavailable, Drain, "/readyz to answer 503 after SIGTERM");
        var notReady = clock.Elapsed;
        for (var i = 0; i < 3; i++)
        {
            using var during = await GetAsync(http, leaving, $"during-{i}");
            Assert.Equal(HttpStatusCode.OK, during.StatusCode);
            Assert.True(during.Headers.ConnectionClose, "a response during the drain must carry Connection: close");
        }


        // 2. After the drain: no new connections, but the request in flight finishes.
        await Wait.UntilAsync(() => RefusesConnectionsAsync(leaving), Drain + TimeSpan.FromSeconds(10), "the public listener to refuse new connections after the drain");
        var refusing = clock.Elapsed;
        using (var finished = await inFlight)
        {
            Assert.Equal(HttpStatusCode.OK, finished.StatusCode);
            Assert.NotNull(finished.Headers.GetValues("X-Backend-Id").SingleOrDefault());
        }

        // 3. The WebSocket is told the server is going away, and answers (the backend then ends the connection; one
        // left open would hold the gateway's exit until the host's shutdown timeout, checked below).
        var close = await goodbye.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, close.CloseStatus);
        Assert.Equal("gateway shutting down", close.CloseStatusDescription);

        // 4. A graceful exit, before the host's shutdown timeout: nothing was left hanging for it to cut.
        await stopped;
        Output.WriteLine($"After SIGTERM: /readyz 503 at {notReady.TotalSeconds:F2} s, connections refused at {refusing.TotalSeconds:F2} s (drain {Drain.TotalSeconds:F0} s), exited at {clock.Elapsed.TotalSeconds:F2} s with code {process.ExitCode}.");
        Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}\n{process.RecentOutput()}");
        Assert.True(clock.Elapsed < HostShutdownTimeout, $"The gateway took {clock.Elapsed} to stop.\n{process.RecentOutput()}");
        Assert.Contains("load lease released", process.RecentOutput(), StringComparison.Ordinal);

        // 5. Its lease is gone from the pool now, not in a minute.
        await Wait.UntilAsync(async () => (await LeaseholdersAsync(http, staying)).SetEquals(["gateway1"]), TimeSpan.FromSeconds(10), "the stopped gateway's lease to leave the snapshot");
    }

    private static async Task<HttpResponseMessage> GetAsync(HttpClient http, GatewayNode gateway, string key, TimeSpan? delay = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway.Address, "/shutdown"));
        request.Headers.Add("X-Session-Id", key);
        if (delay is { } wait)
        {
            request.Headers.Add("X-Delay-Ms", ((int)wait.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return await http.SendAsync(request);
    }

    private static async Task<HttpStatusCode> ReadinessAsync(HttpClient http, GatewayNode gateway)
    {
        using var response = await http.GetAsync(new Uri(gateway.AdminAddress, "/readyz"));
        return response.StatusCode;
    }

    private static async Task<bool> RefusesConnectionsAsync(GatewayNode gateway)
    {
        using var tcp = new TcpClient();
        try
        {
            await tcp.ConnectAsync(gateway.Host, gateway.Port);
            return false;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return true;
        }
    }

    // Gateway ids holding a load lease in pool "web", as the pool grain reports them through a gateway's admin API.
    private static async Task<HashSet<string>> LeaseholdersAsync(HttpClient http, GatewayNode gateway)
    {
        using var document = JsonDocument.Parse(await http.GetStringAsync(new Uri(gateway.AdminAddress, "/admin/pools/web")));
        return [.. document.RootElement.GetProperty("gateways").EnumerateArray().Select(g => g.GetProperty("id").GetString()!)];
    }

    private static async Task<string> EchoAsync(ClientWebSocket socket, string message)
    {
        await socket.SendAsync(Encoding.UTF8.GetBytes(message), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        var buffer = new byte[1024];
        var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
        return Encoding.UTF8.GetString(buffer, 0, result.Count);
    }

    // Waits for the server's Close and answers it, as a client following RFC 6455 does.
    private static async Task<WebSocketReceiveResult> ReceiveCloseAsync(ClientWebSocket socket)
    {
        var buffer = new byte[1024];
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                await socket.CloseOutputAsync(result.CloseStatus ?? WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                return result;
            }
        }
    }
}
