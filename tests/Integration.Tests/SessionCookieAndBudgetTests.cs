using System.Net;
using System.Security.Cryptography;
using Distributed.Topology;

namespace Distributed.Integration.Tests;

/// <summary>
/// A client's budget of new sessions and session-cookie key rotation, through a real gateway: one silo, one gateway,
/// a cookie pool (<c>/c/...</c>) and a header pool.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SessionCookieAndBudgetTests(ITestOutputHelper output) : ProcessTest(output), IAsyncLifetime
{
    private const string Cookie = "dist_session";
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseCookies = false }) { Timeout = TimeSpan.FromSeconds(30) };
    private readonly Dictionary<string, string> _gatewaySettings = new()
    {
        ["Balancer:NewSessions:PerClientPerSecond"] = "0.2",
        ["Balancer:NewSessions:PerClientBurst"] = "5",
    };

    private LocalTopology? _topology;

    private LocalTopology Topology => _topology!;

    public async Task InitializeAsync() => _topology = await LocalTopology.StartAsync(new TopologyOptions
    {
        Silos = 1,
        Gateways = 1,
        Backends = 2,
        GatewaySettings = _gatewaySettings,
        Balancer = backends => TopologyOptions.AddRoutedPool(TopologyOptions.AddRoutedPool([], "c", $"Cookie:{Cookie}", backends, "/c/{**rest}", order: 0), "web", "Header:X-Session-Id", backends, "/{**rest}", order: 1),
    });

    public async Task DisposeAsync()
    {
        if (_topology is not null)
        {
            await _topology.DisposeAsync();
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _http.Dispose();
        }

        base.Dispose(disposing);
    }

    [Fact]
    public async Task NewSessionsPastTheClientsBudget_AreServedWithoutAPinEvenWithSpoofedForwardedForAndKnownOnesStaySticky()
    {
        using var first = await _http.GetAsync(new Uri(Topology.Gateways[0].Address, "/c/known"));
        var known = SessionCookie(first)!;
        var backend = first.Headers.GetValues("X-Backend-Id").Single();

        var issued = 0;
        for (var i = 0; i < 20; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Topology.Gateways[0].Address, "/c/new"));
            request.Headers.Add("X-Forwarded-For", $"198.51.100.{i}"); // from no trusted proxy: the client stays 127.0.0.1
            using var response = await _http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            if (SessionCookie(response) is not null)
            {
                issued++;
            }
        }

        // Burst 5 (one of it spent above), then one every 5 s: the 20 requests took far less, so hardly any more.
        Assert.InRange(issued, 4, 6);

        // A session that exists is never refused by the budget.
        for (var i = 0; i < 3; i++)
        {
            using var again = await SendWithCookieAsync(known);
            Assert.Equal(backend, again.Headers.GetValues("X-Backend-Id").Single());
        }
    }

    [Fact]
    public async Task SigningKeyRotated_OldCookiesAreAcceptedWithTheirPinAndIssuedAgainUntilTheOldKeyIsDropped()
    {
        using var first = await _http.GetAsync(new Uri(Topology.Gateways[0].Address, "/c/profile"));
        var oldCookie = SessionCookie(first)!;
        var backend = first.Headers.GetValues("X-Backend-Id").Single();

        // Roll the gateway onto a new key, keeping the old one for verification only.
        var newKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        _gatewaySettings["Balancer:Cookies:SigningKey"] = newKey;
        _gatewaySettings["Balancer:Cookies:PreviousSigningKeys:0"] = Topology.CookieSigningKey;
        await Topology.RestartAsync("gateway1");

        using var rotated = await SendWithCookieAsync(oldCookie);
        Assert.Equal(backend, rotated.Headers.GetValues("X-Backend-Id").Single());
        var reissued = SessionCookie(rotated);
        Assert.NotNull(reissued);
        Assert.NotEqual(oldCookie, reissued);

        // The old key dropped: the re-issued cookie keeps the session, the old one no longer does.
        _gatewaySettings.Remove("Balancer:Cookies:PreviousSigningKeys:0");
        await Topology.RestartAsync("gateway1");
        using var kept = await SendWithCookieAsync(reissued);
        Assert.Equal(backend, kept.Headers.GetValues("X-Backend-Id").Single());
        Assert.Null(SessionCookie(kept));
        using var dropped = await SendWithCookieAsync(oldCookie);
        Assert.NotNull(SessionCookie(dropped)); // a fresh session
        Assert.NotEqual(reissued, SessionCookie(dropped));
    }

    private Task<HttpResponseMessage> SendWithCookieAsync(string cookie)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Topology.Gateways[0].Address, "/c/profile"));
        request.Headers.Add("Cookie", $"{Cookie}={cookie}");
        return _http.SendAsync(request);
    }

    private static string? SessionCookie(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Set-Cookie", out var values) && values.FirstOrDefault(v => v.StartsWith(Cookie + "=", StringComparison.Ordinal)) is { } header
            ? header[(Cookie.Length + 1)..].Split(';')[0]
            : null;
}
