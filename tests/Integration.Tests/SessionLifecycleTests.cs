using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Distributed.Topology;
using StackExchange.Redis;

namespace Distributed.Integration.Tests;

/// <summary>
/// Sessions leave the store when they lapse (design I11): Redis holds live pins, not every session ever seen. Real
/// Redis, a real silo and gateway; session TTL 5 s and a 2 s record margin so a lapse takes seconds, not half an hour.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SessionLifecycleTests(ITestOutputHelper output) : ProcessTest(output), IAsyncLifetime
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Margin = TimeSpan.FromSeconds(2);
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseCookies = false, MaxConnectionsPerServer = 64 }) { Timeout = TimeSpan.FromSeconds(30) };
    private LocalTopology? _topology;
    private ConnectionMultiplexer? _redis;

    private LocalTopology Topology => _topology!;

    private IServer Redis => _redis!.GetServer(Topology.Redis.ConnectionString);

    public async Task InitializeAsync()
    {
        _topology = await LocalTopology.StartAsync(new TopologyOptions
        {
            Silos = 1,
            Gateways = 1,
            Backends = 2,
            SiloSettings = new Dictionary<string, string> { ["Orleans:SessionRecordMargin"] = Margin.ToString("c", CultureInfo.InvariantCulture) },
            Balancer = backends =>
            {
                var settings = TopologyOptions.AddRoutedPool(TopologyOptions.AddRoutedPool([], "c", "Cookie:dist_session", backends, "/c/{**rest}", order: 0), "web", "Header:X-Session-Id", backends, "/{**rest}", order: 1);
                settings["Balancer:Pools:c:SessionTtl"] = Ttl.ToString("c", CultureInfo.InvariantCulture);
                settings["Balancer:Pools:web:SessionTtl"] = Ttl.ToString("c", CultureInfo.InvariantCulture);
                settings["Balancer:PinCache:ConfirmInterval"] = "00:00:02";
                return settings;
            },
        });
        _redis = await ConnectionMultiplexer.ConnectAsync(Topology.Redis.ConnectionString + ",allowAdmin=true");
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _http.Dispose();
        }

        base.Dispose(disposing);
    }

    public async Task DisposeAsync()
    {
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }

        if (_topology is not null)
        {
            await _topology.DisposeAsync();
        }
    }

    [Fact]
    public async Task Pin_IsStoredWithAnExpiryAfterItsTtlAndAnUnpinDeletesIt()
    {
        var key = $"life-{Guid.NewGuid():N}";
        using (var first = await SendAsync("/", key))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        var storedAfter = await Wait.UntilAsync(async () => (await SessionRecordsAsync(key)).Count == 1, TimeSpan.FromSeconds(10), "the pin to be stored");
        var stored = Assert.Single(await SessionRecordsAsync(key));
        var ttl = await _redis!.GetDatabase().KeyTimeToLiveAsync(stored);
        Assert.NotNull(ttl);
        Assert.InRange(ttl.Value, TimeSpan.FromSeconds(1), Ttl + Margin);

        using var unpin = new HttpRequestMessage(HttpMethod.Delete, new Uri(Topology.Gateways[0].AdminAddress, $"/admin/pools/web/sessions/{key}"));
        unpin.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Topology.AdminApiKey);
        using (var response = await _http.SendAsync(unpin))
        {
            Assert.True(response.IsSuccessStatusCode, $"unpin answered {(int)response.StatusCode}");
        }

        Assert.Empty(await SessionRecordsAsync(key));
        Output.WriteLine($"stored as {stored}, expiring in {ttl.Value.TotalSeconds:F1} s (TTL {Ttl.TotalSeconds} s + margin {Margin.TotalSeconds} s); gone after the unpin; found after {storedAfter.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task FloodOfOneShotCookieSessions_StoreHoldsOnlyLiveOnesAndReturnsToItsBaselineOnceTheyLapse()
    {
        const int Flood = 20_000;
        var baselineKeys = await Redis.DatabaseSizeAsync();
        var baselineBytes = await UsedMemoryAsync();

        // Every request without a cookie is a new session: a pin written behind the response, a Redis record that
        // lapses 5 s later. Meanwhile the store is sampled: it holds the sessions of the last seconds, not all of them.
        var sent = 0;
        using var sampling = new CancellationTokenSource();
        var peak = (Keys: baselineKeys, Bytes: baselineBytes);
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                var keys = await Redis.DatabaseSizeAsync();
                if (keys > peak.Keys)
                {
                    peak = (keys, await UsedMemoryAsync());
                }

                await Task.Delay(250);
            }
        });
        // Paced at most one new session a millisecond, so the flood outlasts a record's life (TTL + margin, 7 s) about
        // three times on any machine: unpaced, a fast run sent all 20,000 within 8 s, and a store whose pins do lapse
        // then held 90 % of them at its peak. Pacing, not a wait for a condition: a slower machine only sends slower.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, Flood), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
        {
            var ahead = TimeSpan.FromMilliseconds(i) - clock.Elapsed;
            if (ahead > TimeSpan.Zero)
            {
                await Task.Delay(ahead, ct);
            }

            using var response = await _http.GetAsync(new Uri(Topology.Gateways[0].Address, "/c/flood"), ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True(response.Headers.Contains("Set-Cookie"));
            Interlocked.Increment(ref sent);
        });

        var storedAfterFlood = (await FloodRecordsAsync()).Count;
        Assert.True(storedAfterFlood > 0, $"No session record of the flood's pool matched the pattern: {Remaining()}");

        // Per-backend and per-pool records (the pool's registry, each backend's session-list marker) may appear for the
        // flood's pool; per-session records must all go.
        await Wait.UntilAsync(async () => (await FloodRecordsAsync()).Count == 0, Ttl + Margin + TimeSpan.FromSeconds(60), "the lapsed pins to leave Redis", Remaining);
        Assert.True(await Redis.DatabaseSizeAsync() <= baselineKeys + 8, $"More than a few per-pool records are left: {Remaining()}");
        await sampling.CancelAsync();
        await sampler;
        var afterBytes = await UsedMemoryAsync();
        var perPin = (peak.Bytes - baselineBytes) / (double)Math.Max(1, peak.Keys - baselineKeys);
        Output.WriteLine($"baseline {baselineKeys} keys / {baselineBytes:N0} B; {sent:N0} one-shot sessions; at most {peak.Keys - baselineKeys:N0} stored at once ({peak.Bytes:N0} B, {perPin:F0} B per stored pin); {storedAfterFlood:N0} session records right after it; once lapsed {await Redis.DatabaseSizeAsync()} keys / {afterBytes:N0} B");

        Assert.Equal(Flood, sent);
        Assert.True(peak.Keys - baselineKeys >= 500, $"Only {peak.Keys - baselineKeys} pins were ever stored at once: the flood did not reach the store.");
        Assert.True(peak.Keys - baselineKeys < Flood * 9 / 10, "Nearly every session of the flood was stored at once: lapsed pins did not leave the store while it ran.");
        Assert.True(afterBytes - baselineBytes < Math.Max(64 * 1024, (peak.Bytes - baselineBytes) / 10), $"Redis still uses {afterBytes - baselineBytes:N0} B more than before the flood.");
    }

    private async Task<HttpResponseMessage> SendAsync(string path, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Topology.Gateways[0].Address, path));
        request.Headers.Add("X-Session-Id", key);
        return await _http.SendAsync(request);
    }

    // For a failure message: how many keys are left and what a few of them are, with their expiry.
    private string Remaining()
    {
        var db = _redis!.GetDatabase();
        var keys = Redis.Keys(pageSize: 1000).Take(2000).ToList();
        return $"{keys.Count} keys, {keys.Count(k => db.KeyTimeToLive(k) is null)} without expiry: " + string.Join(", ", keys.Take(5).Select(k => $"{k} ttl={db.KeyTimeToLive(k)?.TotalSeconds.ToString("F0", CultureInfo.InvariantCulture) ?? "none"}"));
    }

    private async Task<List<RedisKey>> SessionRecordsAsync(string sessionKey)
    {
        var keys = new List<RedisKey>();
        await foreach (var key in Redis.KeysAsync(pattern: $"*/web/{sessionKey}/*"))
        {
            keys.Add(key);
        }

        return keys;
    }

    private async Task<List<RedisKey>> FloodRecordsAsync()
    {
        var keys = new List<RedisKey>();
        await foreach (var key in Redis.KeysAsync(pattern: "*/state/session/c/*", pageSize: 1000))
        {
            keys.Add(key);
        }

        return keys;
    }

    private async Task<long> UsedMemoryAsync()
    {
        var info = await Redis.InfoAsync("memory");
        var used = info.SelectMany(g => g).First(kv => kv.Key == "used_memory").Value;
        return long.Parse(used, CultureInfo.InvariantCulture);
    }
}
