using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Distributed.Topology;

namespace Distributed.Integration.Tests;

[Trait("Category", "Integration")]
public sealed class StickyRoutingTests(TwoGatewayTopologyFixture fixture, ITestOutputHelper output) : ProcessTest(output), IClassFixture<TwoGatewayTopologyFixture>
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };

    private LocalTopology Topology => fixture.Topology;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _http.Dispose();
        }

        base.Dispose(disposing);
    }

    [Fact]
    public async Task SessionKeys_FirstRequestsRacingThroughBothGateways_EachKeySeesOneBackendAndSessionsSpreadEvenly()
    {
        const int Keys = 1000;
        var run = Guid.NewGuid().ToString("N")[..8];
        var firstBackend = new ConcurrentDictionary<string, string>();
        var violations = new ConcurrentBag<string>();

        await Parallel.ForEachAsync(Enumerable.Range(0, Keys), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            var key = $"user-{run}-{i}";
            var first = Topology.Gateways[i % 2];
            var second = Topology.Gateways[(i + 1) % 2];
            // The key's first requests race through both gateways: the session grain's first writer wins for both.
            var racing = await Task.WhenAll(GetBackendAsync(first, "/", key, ct), GetBackendAsync(second, "/", key, ct));
            var seen = new[]
            {
                racing[0],
                racing[1],
                await GetBackendAsync(first, "/again", key, ct),
                await GetBackendAsync(second, "/again", key, ct),
            };
            firstBackend[key] = seen[0];
            if (seen.Distinct().Count() != 1)
            {
                violations.Add($"{key}: {string.Join(" -> ", seen)}");
            }
        });

        Assert.Empty(violations);
        var shares = firstBackend.Values.GroupBy(b => b).ToDictionary(g => g.Key, g => g.Count());
        var even = Keys / (double)Topology.Backends.Count;
        foreach (var backend in Topology.Backends)
        {
            var count = shares.GetValueOrDefault(backend.Id);
            Assert.True(
                Math.Abs(count - even) <= even * 0.2,
                $"Backend {backend.Id} got {count} of {Keys} new sessions; expected {even:F0} ± 20%. Shares: {string.Join(", ", shares.Select(s => $"{s.Key}={s.Value}"))}");
        }
    }

    [Fact]
    public async Task SessionCookie_IssuedByOneGateway_IsHonouredByTheOtherAndATamperedOneGetsAFreshSession()
    {
        var (gateway1, gateway2) = (Topology.Gateways[0], Topology.Gateways[1]);

        using var issued = await _http.GetAsync(new Uri(gateway1.Address, "/c/profile"));
        Assert.Equal(HttpStatusCode.OK, issued.StatusCode);
        var cookie = SessionCookie(issued) ?? throw new Xunit.Sdk.XunitException("No session cookie was issued for a request without one.");
        var backend = BackendOf(issued);
        Assert.Contains("httponly", SetCookieHeader(issued)!, StringComparison.OrdinalIgnoreCase);

        for (var i = 0; i < 5; i++)
        {
            using var again = await GetWithCookieAsync(i % 2 == 0 ? gateway2 : gateway1, cookie);
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
            Assert.Equal(backend, BackendOf(again));
            Assert.Null(SessionCookie(again));
        }

        var tampered = cookie[..^1] + (cookie[^1] == 'A' ? 'B' : 'A');
        using var fresh = await GetWithCookieAsync(gateway2, tampered);
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
        var replacement = SessionCookie(fresh);
        Assert.NotNull(replacement);
        Assert.NotEqual(cookie, replacement);

        // The replacement is a real session: sticky through both gateways.
        var freshBackend = BackendOf(fresh);
        foreach (var gateway in Topology.Gateways)
        {
            using var follow = await GetWithCookieAsync(gateway, replacement);
            Assert.Equal(freshBackend, BackendOf(follow));
        }
    }

    [Fact]
    public async Task SlowRequestsOnOneBackendThroughGateway1_Gateway2SendsNewSessionsElsewhere()
    {
        const int Held = 20;
        var (gateway1, gateway2) = (Topology.Gateways[0], Topology.Gateways[1]);
        var hogKey = $"hog-{Guid.NewGuid():N}";
        var busy = await GetBackendAsync(gateway1, "/", hogKey, CancellationToken.None);
        var busyNode = Topology.Backends.Single(b => b.Id == busy);

        using var release = new CancellationTokenSource();
        var held = Enumerable.Range(0, Held).Select(_ => HoldAsync(gateway1, hogKey, release.Token)).ToArray();
        try
        {
            await Wait.UntilAsync(
                async () => (await StatsAsync(busyNode)).InFlight >= Held,
                TimeSpan.FromSeconds(15),
                $"{Held} slow requests in flight on {busy}");

            // Gateway 1 reports within one interval and gateway 2 picks the figure up on its next report.
            var deadline = fixture.ReportInterval * 2 + TimeSpan.FromSeconds(1.5);
            var attempt = 0;
            await Wait.UntilAsync(
                async () =>
                {
                    attempt++;
                    for (var i = 0; i < 30; i++)
                    {
                        if (await GetBackendAsync(gateway2, "/", $"new-{attempt}-{i}-{Guid.NewGuid():N}", CancellationToken.None) == busy)
                        {
                            return false;
                        }
                    }

                    return true;
                },
                deadline,
                $"gateway 2 to stop sending new sessions to {busy}, which gateway 1 keeps busy with {Held} requests");
        }
        finally
        {
            await release.CancelAsync();
            await Task.WhenAll(held);
            await Wait.UntilAsync(async () => (await StatsAsync(busyNode)).InFlight == 0, TimeSpan.FromSeconds(10), $"{busy} to finish the released requests");
        }
    }

    private async Task HoldAsync(GatewayNode gateway, string key, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway.Address, "/slow"));
        request.Headers.Add("X-Session-Id", key);
        request.Headers.Add("X-Delay-Ms", "30000");
        try
        {
            using var response = await _http.SendAsync(request, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Released on purpose.
        }
    }

    private async Task<string> GetBackendAsync(GatewayNode gateway, string path, string key, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway.Address, path));
        request.Headers.Add("X-Session-Id", key);
        using var response = await _http.SendAsync(request, cancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{gateway.Name} answered {(int)response.StatusCode} for {key}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
        return BackendOf(response);
    }

    private Task<HttpResponseMessage> GetWithCookieAsync(GatewayNode gateway, string cookie)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway.Address, "/c/profile"));
        request.Headers.Add("Cookie", $"{TwoGatewayTopologyFixture.CookieName}={cookie}");
        return _http.SendAsync(request);
    }

    private async Task<EchoStats> StatsAsync(BackendNode backend) =>
        await _http.GetFromJsonAsync<EchoStats>(new Uri(backend.Address, "/_echo/stats")) ?? throw new InvalidOperationException("No stats.");

    private static string BackendOf(HttpResponseMessage response) =>
        response.Headers.TryGetValues("X-Backend-Id", out var values) ? values.Single() : throw new Xunit.Sdk.XunitException($"No X-Backend-Id in a {(int)response.StatusCode} answer.");

    private static string? SetCookieHeader(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Set-Cookie", out var values)
            ? values.FirstOrDefault(v => v.StartsWith(TwoGatewayTopologyFixture.CookieName + "=", StringComparison.Ordinal))
            : null;

    private static string? SessionCookie(HttpResponseMessage response) =>
        SetCookieHeader(response) is { } header ? header[(TwoGatewayTopologyFixture.CookieName.Length + 1)..].Split(';')[0] : null;

    private sealed record EchoStats(string Id, long Requests, long HealthChecks, int InFlight);
}
