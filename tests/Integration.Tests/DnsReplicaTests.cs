using System.Net;
using System.Net.Sockets;
using Distributed.Topology;

namespace Distributed.Integration.Tests;

/// <summary>Three gateway replicas on 127.0.0.2–127.0.0.4 behind one name, as clients behind DNS round robin see them.</summary>
[Trait("Category", "Integration")]
public sealed class DnsReplicaTests(ITestOutputHelper output) : ProcessTest(output)
{
    private const string Name = "gateways.distributed.test";
    private static readonly IPAddress[] Replicas = [IPAddress.Parse("127.0.0.2"), IPAddress.Parse("127.0.0.3"), IPAddress.Parse("127.0.0.4")];

    [Fact]
    public async Task SessionsThroughAnyReplica_StayOnOneBackend_AlsoAfterAReplicaIsKilled()
    {
        await using var topology = await LocalTopology.StartAsync(new TopologyOptions
        {
            Silos = 1,
            Backends = 3,
            GatewayHosts = [.. Replicas.Select(r => r.ToString())],
        });
        var port = topology.Gateways[0].Port;
        var next = 0;
        var connections = new int[Replicas.Length];

        // "DNS" resolving the name to all three addresses in rotation; a refused address is skipped, as clients do.
        using var http = new HttpClient(new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.Zero,
            ConnectCallback = async (context, cancellationToken) =>
            {
                Assert.Equal(Name, context.DnsEndPoint.Host);
                for (var attempt = 0; ; attempt++)
                {
                    var index = (Interlocked.Increment(ref next) & int.MaxValue) % Replicas.Length;
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    try
                    {
                        await socket.ConnectAsync(new IPEndPoint(Replicas[index], context.DnsEndPoint.Port), cancellationToken);
                        Interlocked.Increment(ref connections[index]);
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused && attempt < Replicas.Length)
                    {
                        socket.Dispose();
                    }
                }
            },
        });

        async Task<string> SendAsync(string key)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{Name}:{port}/cart");
            request.Headers.Add("X-Session-Id", key);
            request.Headers.ConnectionClose = true; // a new connection, so a new "DNS" pick, per request
            using var response = await http.SendAsync(request);
            response.EnsureSuccessStatusCode();
            return response.Headers.GetValues("X-Backend-Id").Single();
        }

        var keys = Enumerable.Range(0, 150).Select(i => $"dns-{Guid.NewGuid():N}-{i}").ToList();
        var pins = new Dictionary<string, string>();
        foreach (var key in keys)
        {
            var seen = new[] { await SendAsync(key), await SendAsync(key), await SendAsync(key) };
            Assert.Single(seen.Distinct());
            pins[key] = seen[0];
        }

        Assert.All(connections, c => Assert.True(c > 100, $"every replica should have served: {string.Join(", ", connections)}"));
        Assert.True(pins.Values.Distinct().Count() > 1, "sessions should spread over the backends");

        topology.Kill("gateway2");
        await topology.Gateways[1].Process!.WaitForExitAsync();
        Array.Clear(connections);
        foreach (var key in keys)
        {
            Assert.Equal(pins[key], await SendAsync(key));
            Assert.Equal(pins[key], await SendAsync(key));
        }

        Assert.Equal(0, connections[1]);
        Assert.True(connections[0] > 0 && connections[2] > 0);
    }
}
