using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Distributed.Topology;

namespace Distributed.Integration.Tests;

[Trait("Category", "Integration")]
[Collection(OperationsTopology.Name)]
public sealed class AdminApiTests(OperationsTopologyFixture fixture, ITestOutputHelper output) : ProcessTest(output)
{
    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request)
    {
        using (request)
        {
            return await fixture.Http.SendAsync(request);
        }
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string detailFragment)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains(detailFragment, problem.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("GET", "/admin/pools")]
    [InlineData("GET", "/admin/pools/web/backends")]
    [InlineData("POST", "/admin/pools/web/backends")]
    [InlineData("PUT", "/admin/pools/web/backends/b1")]
    [InlineData("DELETE", "/admin/pools/web/backends/b1")]
    [InlineData("POST", "/admin/pools/web/backends/b1/drain")]
    [InlineData("GET", "/admin/pools/web/sessions/alice")]
    [InlineData("DELETE", "/admin/pools/web/sessions/alice")]
    [InlineData("GET", "/admin/pools/web/history")]
    [InlineData("GET", "/admin/pools/web/events")]
    public async Task EveryOperation_WithoutOrWithAWrongKey_Is401(string method, string path)
    {
        foreach (var authorization in new[] { null, "Bearer wrong-key", $"Basic {fixture.Topology.AdminApiKey}" })
        {
            var request = new HttpRequestMessage(new HttpMethod(method), new Uri(fixture.Topology.Gateways[0].AdminAddress, path));
            if (authorization is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", authorization);
            }

            using var response = await SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Contains("Bearer", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }

        // Nothing changed: b1 is still there and active.
        Assert.Contains(await fixture.BackendsAsync("web"), b => b.Id == "b1");
    }

    [Fact]
    public async Task AdminPaths_OnThePublicListener_AreProxiedNotServed()
    {
        using var response = await fixture.Http.GetAsync(new Uri(fixture.Topology.Gateways[0].Address, "/admin/pools"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Headers.Contains("X-Backend-Id"), "the public listener must forward /admin to a backend");
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("[1,2,3]")]
    [InlineData("{\"id\": 5}")]
    [InlineData("null")]
    public async Task AddBackend_MalformedBody_Is400WithProblemDetails(string body)
    {
        var request = fixture.Admin(HttpMethod.Post, "/admin/pools/web/backends");
        request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("{\"id\":\"b 9\",\"address\":\"http://127.0.0.1:1/\"}", "'id'")]
    [InlineData("{\"id\":\"b9\",\"address\":\"not a url\"}", "'address'")]
    [InlineData("{\"id\":\"b9\",\"address\":\"file:///etc/passwd\"}", "'address'")]
    [InlineData("{\"id\":\"b9\",\"address\":\"http://127.0.0.1:1/\",\"weight\":0}", "'weight'")]
    [InlineData("{\"id\":\"b9\",\"address\":\"http://127.0.0.1:1/\",\"maxInFlight\":-1}", "'maxInFlight'")]
    [InlineData("{\"id\":\"b9\"}", "'address'")]
    public async Task AddBackend_InvalidValues_Are400NamingTheField(string body, string field)
    {
        var request = fixture.Admin(HttpMethod.Post, "/admin/pools/web/backends");
        request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await SendAsync(request);
        await AssertProblemAsync(response, HttpStatusCode.BadRequest, field);
        Assert.DoesNotContain(await fixture.BackendsAsync("web"), b => b.Id == "b9");
    }

    [Fact]
    public async Task UnknownPoolsBackendsAndSessions_Are404()
    {
        await AssertProblemAsync(await SendAsync(fixture.Admin(HttpMethod.Get, "/admin/pools/nope/backends")), HttpStatusCode.NotFound, "nope");
        await AssertProblemAsync(await SendAsync(fixture.Admin(HttpMethod.Put, "/admin/pools/web/backends/b77", new { weight = 2 })), HttpStatusCode.NotFound, "b77");
        await AssertProblemAsync(await SendAsync(fixture.Admin(HttpMethod.Delete, "/admin/pools/web/backends/b77")), HttpStatusCode.NotFound, "b77");
        await AssertProblemAsync(await SendAsync(fixture.Admin(HttpMethod.Post, "/admin/pools/web/backends/b77/drain")), HttpStatusCode.NotFound, "b77");
        await AssertProblemAsync(await SendAsync(fixture.Admin(HttpMethod.Get, $"/admin/pools/web/sessions/never-{Guid.NewGuid():N}")), HttpStatusCode.NotFound, "not pinned");
        await AssertProblemAsync(await SendAsync(fixture.Admin(HttpMethod.Get, $"/admin/pools/web/sessions/{new string('x', 500)}")), HttpStatusCode.BadRequest, "visible ASCII");
    }

    [Fact]
    public async Task History_UnderTraffic_HoldsEveryFigureOfEveryBackendOncePerSecond()
    {
        // Pool 'weighted' (/w/: b1 and b2, keyless) through gateway 1, with traffic until the history shows it all.
        JsonElement history = default;
        await Wait.UntilAsync(
            async () =>
            {
                for (var i = 0; i < 10; i++)
                {
                    Assert.Equal(200, (await fixture.SendAsync(0, "/w/history")).Status);
                }

                history = await HistoryAsync("weighted", since: null);
                // b1 and b2 (another test may have added and removed a backend: it stays in the history for a while).
                var backends = history.GetProperty("backends").EnumerateArray().Where(b => b.GetProperty("id").GetString() is "b1" or "b2").ToList();
                return backends.Count == 2 && backends.All(b =>
                    Last(b, "requestRate") > 0 && Last(b, "latencyP99Ms") > 0 && Last(b, "errorRate") == 0 && Last(b, "inFlight") >= 0 && Last(b, "sessions") == 0);
            },
            TimeSpan.FromSeconds(60),
            "the history to show the traffic on b1 and b2",
            () => history.ValueKind == JsonValueKind.Undefined ? "" : history.ToString());

        var times = history.GetProperty("times").EnumerateArray().Select(t => t.GetInt64()).ToList();
        Assert.Equal(times.Order(), times);
        Assert.All(history.GetProperty("backends").EnumerateArray().Where(b => b.GetProperty("id").GetString() is "b1" or "b2"), b =>
        {
            Assert.All(new[] { "requestRate", "inFlight", "latencyP99Ms", "errorRate", "sessions" }, series => Assert.Equal(times.Count, b.GetProperty(series).GetArrayLength()));
            Assert.True(Last(b, "latencyP99Ms") < 10_000, "p99 is in milliseconds, within HttpClient's histogram buckets");
        });
        Assert.Equal(1, history.GetProperty("intervalSeconds").GetDouble());

        // Only newer points after 'since': what the status page asks for every second.
        var latest = times[^1];
        await Wait.UntilAsync(
            async () => (await HistoryAsync("weighted", latest)).GetProperty("times").GetArrayLength() > 0,
            TimeSpan.FromSeconds(10),
            "a point after the latest one");
        Assert.All((await HistoryAsync("weighted", latest)).GetProperty("times").EnumerateArray(), t => Assert.True(t.GetInt64() > latest));

        await AssertProblemAsync(await SendAsync(fixture.Admin(HttpMethod.Get, "/admin/pools/weighted/history?since=yesterday")), HttpStatusCode.BadRequest, "Unix milliseconds");
        await AssertProblemAsync(await SendAsync(fixture.Admin(HttpMethod.Get, "/admin/pools/nope/history")), HttpStatusCode.NotFound, "nope");

        static double? Last(JsonElement backend, string series) =>
            backend.GetProperty(series).EnumerateArray().LastOrDefault(v => v.ValueKind == JsonValueKind.Number) is { ValueKind: JsonValueKind.Number } last ? last.GetDouble() : null;
    }

    private async Task<JsonElement> HistoryAsync(string pool, long? since)
    {
        using var response = await SendAsync(fixture.Admin(HttpMethod.Get, $"/admin/pools/{pool}/history" + (since is null ? "" : $"?since={since}")));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task Events_ADrainAndItsCancellationThroughOneGateway_AreListedByAnotherWithWhoDidThem()
    {
        var before = await EventsAsync(gateway: 1, since: null);
        var cursor = before.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("id").GetInt64()).DefaultIfEmpty(0).Max();
        var started = DateTimeOffset.UtcNow;

        using (var drained = await SendAsync(fixture.Admin(HttpMethod.Post, "/admin/pools/weighted/backends/b2/drain", new { timeout = "00:10:00" })))
        {
            Assert.Equal(HttpStatusCode.OK, drained.StatusCode);
        }

        using (var undrained = await SendAsync(fixture.Admin(HttpMethod.Delete, "/admin/pools/weighted/backends/b2/drain")))
        {
            Assert.Equal(HttpStatusCode.OK, undrained.StatusCode);
        }

        // The log is the pool grain's: gateway 1 lists what went through gateway 0, and only what is newer than its cursor.
        var page = await EventsAsync(gateway: 1, since: cursor);
        var events = page.GetProperty("events").EnumerateArray().ToList();
        Assert.All(events, e => Assert.True(e.GetProperty("id").GetInt64() > cursor));
        var onB2 = events.Where(e => e.GetProperty("backend").GetString() == "b2").ToList();
        Assert.Equal(["DrainStarted", "DrainCancelled"], onB2.Select(e => e.GetProperty("kind").GetString()));
        Assert.All(onB2, e => Assert.StartsWith("127.0.0.1 via ", e.GetProperty("by").GetString(), StringComparison.Ordinal));
        Assert.All(onB2, e => Assert.InRange(e.GetProperty("at").GetDateTimeOffset(), started.AddSeconds(-5), DateTimeOffset.UtcNow.AddSeconds(5)));
        Assert.InRange(onB2[0].GetProperty("until").GetDateTimeOffset(), started.AddMinutes(10).AddSeconds(-5), started.AddMinutes(10).AddSeconds(5));
        Assert.Equal(200, page.GetProperty("capacity").GetInt32());
        Assert.True(page.GetProperty("keptSince").GetDateTimeOffset() <= onB2[0].GetProperty("at").GetDateTimeOffset());

        await AssertProblemAsync(await SendAsync(fixture.Admin(HttpMethod.Get, "/admin/pools/weighted/events?since=-1")), HttpStatusCode.BadRequest, "event id");
        await AssertProblemAsync(await SendAsync(fixture.Admin(HttpMethod.Get, "/admin/pools/nope/events")), HttpStatusCode.NotFound, "nope");
    }

    private async Task<JsonElement> EventsAsync(int gateway, long? since)
    {
        using var response = await SendAsync(fixture.Admin(HttpMethod.Get, "/admin/pools/weighted/events" + (since is null ? "" : $"?since={since}"), gateway: gateway));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task AddUpdateRemoveBackend_ReachesEveryGatewaysRouting()
    {
        // A fourth backend process that is not in the configuration.
        var port = FreePorts.Next(1)[0];
        await using var b4 = await EchoBackendProcess.StartEchoAsync("b4", port);

        using (var created = await SendAsync(fixture.Admin(HttpMethod.Post, "/admin/pools/weighted/backends", new { id = "b4", address = $"http://127.0.0.1:{port}/", weight = 50 })))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            Assert.Equal("/admin/pools/weighted/backends/b4", created.Headers.Location?.OriginalString);
        }

        using (var duplicate = await SendAsync(fixture.Admin(HttpMethod.Post, "/admin/pools/weighted/backends", new { id = "b4", address = $"http://127.0.0.1:{port}/" })))
        {
            Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        }

        // With weight 50 against 1 and 3 it takes nearly all new work, through both gateways.
        await Wait.UntilAsync(
            async () => (await fixture.SendAsync(0, "/w/x")).Backend == "b4" && (await fixture.SendAsync(1, "/w/x")).Backend == "b4",
            TimeSpan.FromSeconds(3),
            "both gateways to route to the added b4");

        using (var updated = await SendAsync(fixture.Admin(HttpMethod.Put, "/admin/pools/weighted/backends/b4", new { weight = 7, maxInFlight = 9 })))
        {
            Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
            var backend = await updated.Content.ReadFromJsonAsync<BackendInfo>();
            Assert.Equal((7, 9), (backend!.Weight, backend.MaxInFlight));
        }

        using (var removed = await SendAsync(fixture.Admin(HttpMethod.Delete, "/admin/pools/weighted/backends/b4")))
        {
            Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        }

        Assert.DoesNotContain(await fixture.BackendsAsync("weighted", gateway: 1), b => b.Id == "b4");
        await Wait.UntilAsync(
            async () =>
            {
                for (var i = 0; i < 20; i++)
                {
                    if ((await fixture.SendAsync(i % 2, "/w/x")).Backend is "b4" or null)
                    {
                        return false;
                    }
                }

                return true;
            },
            TimeSpan.FromSeconds(3),
            "both gateways to stop routing to the removed b4");
    }

    [Fact]
    public async Task Readiness_SaysPerPoolWhatTheGatewaySees()
    {
        using var response = await fixture.Http.GetAsync(new Uri(fixture.Topology.Gateways[1].AdminAddress, "/readyz"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Healthy", body.GetProperty("status").GetString());
        var pools = body.GetProperty("checks").GetProperty("cluster-snapshot").GetProperty("data");
        foreach (var pool in (string[])["web", "passive", "weighted", "limited", "slow"])
        {
            Assert.Equal("reachable", pools.GetProperty(pool).GetString());
        }
    }

    [Fact]
    public async Task AddBackend_ConcurrentPostsForOneId_OneIsCreatedTheOthersAre409()
    {
        for (var round = 0; round < 5; round++)
        {
            var id = $"race{round}-{Guid.NewGuid():N}"[..20];
            var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(async gateway =>
            {
                using var response = await SendAsync(fixture.Admin(HttpMethod.Post, "/admin/pools/weighted/backends", new { id, address = "http://127.0.0.1:1/", weight = 1 }, gateway % 2));
                return response.StatusCode;
            }));
            try
            {
                Assert.Single(answers, s => s == HttpStatusCode.Created);
                Assert.All(answers.Where(s => s != HttpStatusCode.Created), s => Assert.Equal(HttpStatusCode.Conflict, s));
            }
            finally
            {
                using var cleanup = await SendAsync(fixture.Admin(HttpMethod.Delete, $"/admin/pools/weighted/backends/{id}"));
            }
        }
    }

    [Fact]
    public async Task UpdateBackend_RacingItsRemoval_NeverBringsItBack()
    {
        for (var round = 0; round < 5; round++)
        {
            var id = $"gone{round}-{Guid.NewGuid():N}"[..20];
            using (var created = await SendAsync(fixture.Admin(HttpMethod.Post, "/admin/pools/weighted/backends", new { id, address = "http://127.0.0.1:1/", weight = 1 })))
            {
                Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            }

            var update = SendAsync(fixture.Admin(HttpMethod.Put, $"/admin/pools/weighted/backends/{id}", new { weight = 9 }, gateway: 1));
            var remove = SendAsync(fixture.Admin(HttpMethod.Delete, $"/admin/pools/weighted/backends/{id}"));
            using var updated = await update;
            using var removed = await remove;

            // In either order the backend ends up removed: an update after the removal is a 404, never a re-creation.
            Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
            Assert.Contains(updated.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.NotFound });
            Assert.DoesNotContain(await fixture.BackendsAsync("weighted"), b => b.Id == id);
        }
    }

    [Fact]
    public async Task Sessions_LookUpListAndUnpin()
    {
        var keys = Enumerable.Range(0, 12).Select(i => $"adm-{Guid.NewGuid():N}-{i}").ToList();
        var pins = new Dictionary<string, string>();
        foreach (var key in keys)
        {
            pins[key] = (await fixture.SendAsync(0, "/", key)).Backend!;
        }

        var sample = keys[0];
        using (var lookup = await SendAsync(fixture.Admin(HttpMethod.Get, $"/admin/pools/web/sessions/{sample}", gateway: 1)))
        {
            Assert.Equal(HttpStatusCode.OK, lookup.StatusCode);
            var body = await lookup.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(pins[sample], body.GetProperty("backend").GetString());
        }

        // Paged listing of the sessions on the sample's backend includes every key pinned there.
        var backend = pins[sample];
        var listed = new List<string>();
        string? after = null;
        do
        {
            var url = $"/admin/pools/web/backends/{backend}/sessions?limit=2" + (after is null ? "" : $"&after={Uri.EscapeDataString(after)}");
            using var page = await SendAsync(fixture.Admin(HttpMethod.Get, url));
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            var body = await page.Content.ReadFromJsonAsync<JsonElement>();
            var sessions = body.GetProperty("sessions").EnumerateArray().Select(e => e.GetString()!).ToList();
            Assert.True(sessions.Count <= 2);
            listed.AddRange(sessions);
            after = body.GetProperty("next").ValueKind == JsonValueKind.Null ? null : body.GetProperty("next").GetString();
        }
        while (after is not null);

        Assert.Equal(listed.Count, listed.Distinct().Count());
        Assert.Subset(listed.ToHashSet(), keys.Where(k => pins[k] == backend).ToHashSet());

        using (var badPage = await SendAsync(fixture.Admin(HttpMethod.Get, $"/admin/pools/web/backends/{backend}/sessions?limit=0")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, badPage.StatusCode);
        }

        // Unpin: gone at once, and its next request gets a pin again (the same gateway dropped its cached one).
        await UnpinAsync(sample);
        Assert.Equal(200, (await fixture.SendAsync(0, "/", sample)).Status);
        Assert.Equal(HttpStatusCode.OK, await LookUpAsync(sample));

        // The other gateway holds a session's pin in its cache; an unpin through the first one reaches it through the
        // pool's snapshots (the session grain told its pool): its next requests ask the grain, which pins the session
        // again. Had it kept the cached pin, it would route without asking for minutes and the session stay unpinned.
        var cached = keys[1];
        Assert.Equal(pins[cached], (await fixture.SendAsync(1, "/", cached)).Backend);
        await UnpinAsync(cached);
        await Wait.UntilAsync(
            async () => (await fixture.SendAsync(1, "/", cached)).Status == 200 && await LookUpAsync(cached) == HttpStatusCode.OK,
            TimeSpan.FromSeconds(10),
            "the second gateway to drop its cached pin of the unpinned session and have it pinned again");

        // Unpinning is safe to repeat (a retry after a failure): a session with no pin is unpinned again without error.
        await UnpinAsync($"never-{Guid.NewGuid():N}");
    }

    // DELETE .../sessions/{key} answers 204 and the session is no longer pinned.
    private async Task UnpinAsync(string key)
    {
        using (var unpinned = await SendAsync(fixture.Admin(HttpMethod.Delete, $"/admin/pools/web/sessions/{key}")))
        {
            Assert.Equal(HttpStatusCode.NoContent, unpinned.StatusCode);
        }

        Assert.Equal(HttpStatusCode.NotFound, await LookUpAsync(key));
    }

    private async Task<HttpStatusCode> LookUpAsync(string key)
    {
        using var lookup = await SendAsync(fixture.Admin(HttpMethod.Get, $"/admin/pools/web/sessions/{key}"));
        return lookup.StatusCode;
    }
}
