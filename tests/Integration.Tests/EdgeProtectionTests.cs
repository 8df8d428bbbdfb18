using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Distributed.Topology;

namespace Distributed.Integration.Tests;

/// <summary>Forwarded headers believed only from configured proxies; a per-client-IP rate limit on the public listener.</summary>
[Trait("Category", "Integration")]
public sealed class EdgeProtectionTests
{
    [Fact]
    public async Task ForwardedForFromATrustedProxyOnly_KeysClientIpSessions_AndTheRateLimitAnswers429()
    {
        await using var topology = await LocalTopology.StartAsync(new TopologyOptions
        {
            Silos = 1,
            Gateways = 1,
            Backends = 1,
            Balancer = backends => TopologyOptions.PoolSettings("web", "ClientIp", backends),
            GatewaySettings = new Dictionary<string, string>
            {
                ["Balancer:ForwardedHeaders:KnownProxies:0"] = "127.0.0.1",
                ["Balancer:RateLimit:PermitsPerSecond"] = "5",
                ["Balancer:RateLimit:Burst"] = "5",
            },
        });
        var gateway = topology.Gateways[0];

        // From the trusted proxy (127.0.0.1) the forwarded client address keys the session.
        using (var trusted = Client(IPAddress.Loopback))
        using (var request = new HttpRequestMessage(HttpMethod.Get, gateway.Address))
        {
            request.Headers.Add("X-Forwarded-For", "203.0.113.7");
            Assert.Equal(HttpStatusCode.OK, (await trusted.SendAsync(request)).StatusCode);
        }

        // From anyone else the header is ignored: the connection's own address keys the session.
        using (var untrusted = Client(IPAddress.Parse("127.0.0.2")))
        using (var request = new HttpRequestMessage(HttpMethod.Get, gateway.Address))
        {
            request.Headers.Add("X-Forwarded-For", "198.51.100.9");
            Assert.Equal(HttpStatusCode.OK, (await untrusted.SendAsync(request)).StatusCode);
        }

        using var admin = new HttpClient();
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", topology.AdminApiKey);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(new Uri(gateway.AdminAddress, "/admin/pools/web/sessions/203.0.113.7"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(new Uri(gateway.AdminAddress, "/admin/pools/web/sessions/127.0.0.2"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync(new Uri(gateway.AdminAddress, "/admin/pools/web/sessions/198.51.100.9"))).StatusCode);

        // 5 per second with a burst of 5: twenty at once from one address are mostly refused, with Retry-After.
        using var flood = Client(IPAddress.Parse("127.0.0.3"));
        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => flood.GetAsync(gateway.Address)));
        Assert.InRange(answers.Count(a => a.StatusCode == HttpStatusCode.OK), 1, 7);
        var refused = answers.Where(a => a.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.NotEmpty(refused);
        Assert.All(refused, r => Assert.NotNull(r.Headers.RetryAfter));

        // Other clients and the management listener are not affected.
        using var other = Client(IPAddress.Parse("127.0.0.4"));
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync(gateway.Address)).StatusCode);
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(new Uri(gateway.AdminAddress, "/healthz"))).StatusCode);
        }
    }

    // A client whose connections come from a given loopback address, as distinct clients would.
    private static HttpClient Client(IPAddress local) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(local, 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    });
}
