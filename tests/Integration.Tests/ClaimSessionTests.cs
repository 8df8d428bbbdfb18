using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Distributed.Topology;

namespace Distributed.Integration.Tests;

/// <summary><c>Claim:sub</c> session keys from JWT bearer tokens the gateway validates (<c>Balancer:Authentication</c>).</summary>
[Trait("Category", "Integration")]
public sealed class ClaimSessionTests(ITestOutputHelper output) : ProcessTest(output)
{
    private const string Issuer = "https://issuer.distributed.test";
    private const string Audience = "distributed-web";

    [Fact]
    public async Task ValidToken_KeysTheSessionByItsClaim_AndAnyInvalidTokenIsKeylessNotRefused()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        await using var topology = await LocalTopology.StartAsync(new TopologyOptions
        {
            Silos = 1,
            Gateways = 1,
            Backends = 3,
            Balancer = backends => TopologyOptions.PoolSettings("web", "Claim:sub", backends),
            GatewaySettings = new Dictionary<string, string>
            {
                ["Balancer:Authentication:Issuer"] = Issuer,
                ["Balancer:Authentication:Audience"] = Audience,
                ["Balancer:Authentication:SigningKey"] = Convert.ToBase64String(key),
            },
        });
        var gateway = topology.Gateways[0];
        using var http = new HttpClient();
        var now = DateTimeOffset.UtcNow;

        // A valid token: the session is keyed by "sub" and pinned; every request of the user sees one backend.
        var alice = Token(key, new { iss = Issuer, aud = Audience, sub = "alice", exp = now.AddMinutes(5).ToUnixTimeSeconds() });
        var backends = new HashSet<string>();
        for (var i = 0; i < 6; i++)
        {
            backends.Add(await SendAsync(http, gateway, alice));
        }

        Assert.Single(backends);

        // Invalid tokens are not believed, and not refused either: the request is forwarded keyless.
        var invalid = new Dictionary<string, string>
        {
            ["mallory"] = Token(RandomNumberGenerator.GetBytes(32), new { iss = Issuer, aud = Audience, sub = "mallory", exp = now.AddMinutes(5).ToUnixTimeSeconds() }),
            ["eve"] = Token(key, new { iss = Issuer, aud = "another-service", sub = "eve", exp = now.AddMinutes(5).ToUnixTimeSeconds() }),
            ["trudy"] = Token(key, new { iss = "https://elsewhere.test", aud = Audience, sub = "trudy", exp = now.AddMinutes(5).ToUnixTimeSeconds() }),
            ["old"] = Token(key, new { iss = Issuer, aud = Audience, sub = "old", exp = now.AddMinutes(-10).ToUnixTimeSeconds() }),
            ["none"] = Unsigned(new { iss = Issuer, aud = Audience, sub = "none", exp = now.AddMinutes(5).ToUnixTimeSeconds() }),
        };
        foreach (var token in invalid.Values)
        {
            await SendAsync(http, gateway, token);
        }

        await SendAsync(http, gateway, token: null);

        using var admin = new HttpClient();
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", topology.AdminApiKey);
        using (var pin = await admin.GetAsync(new Uri(gateway.AdminAddress, "/admin/pools/web/sessions/alice")))
        {
            Assert.Equal(HttpStatusCode.OK, pin.StatusCode);
            Assert.Contains(backends.Single(), await pin.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        foreach (var subject in invalid.Keys)
        {
            using var response = await admin.GetAsync(new Uri(gateway.AdminAddress, $"/admin/pools/web/sessions/{subject}"));
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"a session was pinned for '{subject}', whose token is invalid");
        }
    }

    private static async Task<string> SendAsync(HttpClient http, GatewayNode gateway, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Address);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response.Headers.GetValues("X-Backend-Id").Single();
    }

    // A compact JWS signed with HMAC-SHA256 (RFC 7519), made by hand so the test shares no code with the gateway.
    private static string Token(byte[] key, object claims)
    {
        var unsigned = $"{Base64Url(new { alg = "HS256", typ = "JWT" })}.{Base64Url(claims)}";
        return $"{unsigned}.{Base64Url(HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(unsigned)))}";
    }

    private static string Unsigned(object claims) => $"{Base64Url(new { alg = "none", typ = "JWT" })}.{Base64Url(claims)}.";

    private static string Base64Url(object json) => Base64Url(JsonSerializer.SerializeToUtf8Bytes(json));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
