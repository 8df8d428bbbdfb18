using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Distributed.Topology;

namespace Distributed.Integration.Tests;

/// <summary>
/// Forwarded headers are believed only from configured proxies (none by default); a per-client-IP rate limit on the
/// public listener. Each client is a distinct loopback source address.
/// </summary>
[Trait("Category", "Integration")]
public sealed class EdgeProtectionTests(ITestOutputHelper output) : ProcessTest(output)
{
    // 5 per second with a burst of 5: twenty requests at once from one client are mostly refused.
    private static readonly Dictionary<string, string> RateLimit = new()
    {
        ["Balancer:RateLimit:PermitsPerSecond"] = "5",
        ["Balancer:RateLimit:Burst"] = "5",
    };

    [Fact]
    public async Task DefaultConfiguration_SpoofedForwardedHeaders_ChangeNeitherSessionKeyNorRateLimitBucketNorCookieSecurity()
    {
        await using var topology = await StartAsync(RateLimit);
        var gateway = topology.Gateways[0];
        using var admin = Admin(topology);

        // One client claiming four different addresses (and HTTPS): one ClientIp session, keyed by its real address.
        using (var client = Client(IPAddress.Parse("127.0.0.2")))
        {
            var backends = new HashSet<string>();
            foreach (var spoofed in new[] { "203.0.113.7", "203.0.113.8", "198.51.100.9, 203.0.113.10", "2001:db8::1" })
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Address);
                request.Headers.Add("X-Forwarded-For", spoofed);
                request.Headers.Add("X-Forwarded-Proto", "https");
                using var response = await client.SendAsync(request);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                backends.Add(response.Headers.GetValues("X-Backend-Id").Single());
            }

            Assert.Single(backends);
        }

        Assert.Equal(HttpStatusCode.OK, await SessionStatusAsync(admin, gateway, "127.0.0.2"));
        foreach (var spoofed in new[] { "203.0.113.7", "203.0.113.8", "198.51.100.9", "203.0.113.10", "2001:db8::1" })
        {
            Assert.Equal(HttpStatusCode.NotFound, await SessionStatusAsync(admin, gateway, spoofed));
        }

        // Twenty requests at once from one address, each claiming another: still one rate-limit bucket.
        using (var flood = Client(IPAddress.Parse("127.0.0.3")))
        {
            var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => GetAsync(flood, gateway.Address, forwardedFor: $"192.0.2.{i + 1}")));
            Assert.InRange(answers.Count(a => a == HttpStatusCode.OK), 1, 7);
            Assert.Contains(HttpStatusCode.TooManyRequests, answers);
        }

        // X-Forwarded-Proto: https over plain HTTP does not make the session cookie Secure.
        using (var client = Client(IPAddress.Parse("127.0.0.4")))
        {
            var cookie = await SessionCookieAsync(client, gateway, forwardedProto: "https");
            Assert.DoesNotContain("secure", cookie, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task ConfiguredProxiesAndNetworks_AreBelieved_AndNobodyElse()
    {
        var settings = new Dictionary<string, string>(RateLimit)
        {
            ["Balancer:ForwardedHeaders:KnownProxies:0"] = "127.0.0.1",
            ["Balancer:ForwardedHeaders:KnownNetworks:0"] = "127.0.1.0/24",
        };
        await using var topology = await StartAsync(settings);
        var gateway = topology.Gateways[0];
        using var admin = Admin(topology);

        // From the known proxy (an address) and from the known network, the forwarded client address keys the session.
        using (var proxy = Client(IPAddress.Loopback))
        {
            Assert.Equal(HttpStatusCode.OK, await GetAsync(proxy, gateway.Address, forwardedFor: "203.0.113.7"));
        }

        using var ingress = Client(IPAddress.Parse("127.0.1.5"));
        Assert.Equal(HttpStatusCode.OK, await GetAsync(ingress, gateway.Address, forwardedFor: "203.0.113.8"));

        // Through two trusted hops the client is the first untrusted address from the right; what a client wrote in
        // front of it is not believed.
        Assert.Equal(HttpStatusCode.OK, await GetAsync(ingress, gateway.Address, forwardedFor: "192.0.2.1, 127.0.1.6"));
        Assert.Equal(HttpStatusCode.OK, await GetAsync(ingress, gateway.Address, forwardedFor: "198.51.100.77, 192.0.2.2"));

        // From anyone else the header is ignored: the connection's own address keys the session.
        using (var untrusted = Client(IPAddress.Parse("127.0.0.2")))
        {
            Assert.Equal(HttpStatusCode.OK, await GetAsync(untrusted, gateway.Address, forwardedFor: "198.51.100.9"));
        }

        foreach (var (key, status) in new[]
        {
            ("203.0.113.7", HttpStatusCode.OK), ("203.0.113.8", HttpStatusCode.OK), ("192.0.2.1", HttpStatusCode.OK), ("192.0.2.2", HttpStatusCode.OK),
            ("127.0.0.2", HttpStatusCode.OK), ("127.0.1.6", HttpStatusCode.NotFound), ("198.51.100.77", HttpStatusCode.NotFound), ("198.51.100.9", HttpStatusCode.NotFound),
            ("127.0.0.1", HttpStatusCode.NotFound), ("127.0.1.5", HttpStatusCode.NotFound),
        })
        {
            Assert.True(status == await SessionStatusAsync(admin, gateway, key), $"session '{key}': expected {status}");
        }

        // Behind the proxy every client has its own rate-limit bucket; one client flooding still gets 429s.
        var distinct = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => GetAsync(ingress, gateway.Address, forwardedFor: $"198.51.100.{i + 100}")));
        Assert.All(distinct, status => Assert.Equal(HttpStatusCode.OK, status));
        var same = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => GetAsync(ingress, gateway.Address, forwardedFor: "198.51.100.200")));
        Assert.InRange(same.Count(a => a == HttpStatusCode.OK), 1, 7);
        Assert.Contains(HttpStatusCode.TooManyRequests, same);

        // A proxy that terminated TLS makes the session cookie Secure.
        var cookie = await SessionCookieAsync(ingress, gateway, forwardedProto: "https", forwardedFor: "203.0.113.99");
        Assert.Contains("secure", cookie, StringComparison.OrdinalIgnoreCase);

        // The management listener is not rate limited.
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(new Uri(gateway.AdminAddress, "/healthz"))).StatusCode);
        }
    }

    // A ClientIp pool on every path and a cookie pool on /c/.
    private static Task<LocalTopology> StartAsync(Dictionary<string, string> gatewaySettings) => LocalTopology.StartAsync(BadInputFixture.OptionsFor("ClientIp", gatewaySettings));

    private static HttpClient Admin(LocalTopology topology)
    {
        var admin = new HttpClient();
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", topology.AdminApiKey);
        return admin;
    }

    private static async Task<HttpStatusCode> SessionStatusAsync(HttpClient admin, GatewayNode gateway, string key)
    {
        using var response = await admin.GetAsync(new Uri(gateway.AdminAddress, $"/admin/pools/web/sessions/{key}"));
        return response.StatusCode;
    }

    private static async Task<HttpStatusCode> GetAsync(HttpClient client, Uri uri, string? forwardedFor = null, string? forwardedProto = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        if (forwardedFor is not null)
        {
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        }

        if (forwardedProto is not null)
        {
            request.Headers.Add("X-Forwarded-Proto", forwardedProto);
        }

        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    private static async Task<string> SessionCookieAsync(HttpClient client, GatewayNode gateway, string forwardedProto, string? forwardedFor = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway.Address, "/c/x"));
        request.Headers.Add("X-Forwarded-Proto", forwardedProto);
        if (forwardedFor is not null)
        {
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        }

        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith("sid=", StringComparison.Ordinal));
    }

    // A client whose connections come from a given loopback address, as distinct clients would.
    private static HttpClient Client(IPAddress local) => new(new SocketsHttpHandler
    {
        UseCookies = false,
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
