using System.Diagnostics;
using System.Globalization;
using Distributed.Grains.Abstractions;
using Distributed.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

// Pins N sessions through a running silo, as a gateway would on cache misses, and reports the silo's memory per session.
//   Distributed.Bench.Sessions --silo-pid <pid> [--silo-url http://127.0.0.1:PORT] [--sessions 1000000]
//       [--concurrency 256] [--settle 240] [--pool bench] [--backends 3] [--warmup 2000] [Orleans:* as for gateways]
// Memory is the silo's resident set (/proc/<pid>/status VmRSS), read after a warm-up (JIT, pools, connections are not
// charged to sessions), right after pinning, again once idle session grains were collected (--settle seconds at
// most; the activation count comes from the silo's /metrics when --silo-url is given) and after a forced GC. Last line:
//   sessions=.. pin_rate=.. silo_rss_before_mb=.. silo_rss_after_mb=.. silo_rss_settled_mb=.. bytes_per_session=..
// Exits non-zero unless every session was newly pinned, a sample of pins reads back and the index counts them all.
var builder = Host.CreateApplicationBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var config = builder.Configuration;
var sessions = config.GetValue("sessions", 1_000_000);
var concurrency = config.GetValue("concurrency", 256);
var settleLimit = TimeSpan.FromSeconds(config.GetValue("settle", 240));
var pool = config.GetValue("pool", "bench")!;
var backends = config.GetValue("backends", 3);
var warmup = config.GetValue("warmup", 2_000);
var ttl = TimeSpan.FromMinutes(config.GetValue("ttl-minutes", 30));
var siloPid = config.GetValue<int?>("silo-pid") ?? throw new ArgumentException("--silo-pid <pid of the silo process> is required.");
var siloUrl = config["silo-url"];

var cluster = ClusterHostingOptions.Load(config);
builder.UseOrleansClient(client =>
{
    client.Configure<ClusterOptions>(o =>
    {
        o.ClusterId = cluster.ClusterId;
        o.ServiceId = cluster.ServiceId;
    });
    if (cluster.Clustering == ClusteringMode.Redis)
    {
        client.UseRedisClustering(cluster.Redis!);
    }
    else
    {
        client.UseLocalhostClustering(cluster.GatewayPort);
    }
});

using var host = builder.Build();
await host.StartAsync();
var grains = host.Services.GetRequiredService<IClusterClient>();
using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

// Session ids shaped like the gateway's cookie ids (16 random bytes, base64url: 22 characters), reproducible per run.
static string SessionId(string prefix, int i)
{
    Span<byte> raw = stackalloc byte[16];
    new Random(HashCode.Combine(prefix, i)).NextBytes(raw);
    BitConverter.TryWriteBytes(raw, i); // unique whatever the random bytes
    return Convert.ToBase64String(raw).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

async Task<long> PinAllAsync(string poolName, int count)
{
    var failures = 0L;
    await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (i, cancellationToken) =>
    {
        var grain = grains.GetGrain<ISessionGrain>(SessionGrainKey.For(poolName, SessionId(poolName, i)));
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var result = await grain.GetOrPinAsync($"b{i % backends}", ttl, cancellationToken);
                if (result.Outcome != PinOutcome.Created)
                {
                    Interlocked.Increment(ref failures); // a fresh session must be created, anything else is a bug
                }

                return;
            }
            catch (Exception) when (attempt < 3)
            {
                // Gateways retry a failed pin too (e.g. an ETag conflict during a membership change).
            }
        }
    });
    return failures;
}

async Task<long?> ActivationsAsync()
{
    if (siloUrl is null)
    {
        return null;
    }

    string text;
    try
    {
        text = await http.GetStringAsync(new Uri(new Uri(siloUrl), "/metrics"));
    }
    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
    {
        return null; // a silo busy collecting a million activations may answer late: the figure is informative only
    }

    return text.Split('\n')
        .Where(l => l.StartsWith("orleans_catalog_activations{", StringComparison.Ordinal))
        .Sum(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
}

long RssBytes()
{
    var line = File.ReadLines($"/proc/{siloPid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
}

static string Mb(long bytes) => (bytes / 1048576.0).ToString("F0", CultureInfo.InvariantCulture);

Console.WriteLine($"warm-up: {warmup} sessions in pool {pool}-warmup");
await PinAllAsync($"{pool}-warmup", warmup);
await Task.Delay(TimeSpan.FromSeconds(2));
var rssBefore = RssBytes();
var activationsBefore = await ActivationsAsync();
Console.WriteLine($"before: silo_rss_mb={Mb(rssBefore)} activations={activationsBefore}");

var clock = Stopwatch.StartNew();
using var pinning = new CancellationTokenSource();
var progress = Task.Run(async () =>
{
    using var ticks = new PeriodicTimer(TimeSpan.FromSeconds(10));
    while (await ticks.WaitForNextTickAsync(pinning.Token).AsTask().ContinueWith(t => t.IsCompletedSuccessfully && t.Result, TaskScheduler.Default))
    {
        Console.WriteLine($"  pinning {clock.Elapsed.TotalSeconds:F0}s silo_rss_mb={Mb(RssBytes())} activations={await ActivationsAsync()}");
    }
});
var failures = await PinAllAsync(pool, sessions);
clock.Stop();
await pinning.CancelAsync();
await progress;
var pinSeconds = clock.Elapsed.TotalSeconds;
var rssAfter = RssBytes();
var activationsAfter = await ActivationsAsync();
Console.WriteLine($"after pinning: {pinSeconds:F1}s silo_rss_mb={Mb(rssAfter)} activations={activationsAfter} not_created={failures}");

// Idle session grains are collected by Orleans after their collection age (checked every collection quantum). Wait
// until the activation count is back near where it started and the resident set stopped falling, or the limit.
var settle = Stopwatch.StartNew();
var rssSettled = rssAfter;
var activationsSettled = activationsAfter;
while (settle.Elapsed < settleLimit)
{
    await Task.Delay(TimeSpan.FromSeconds(5));
    var rss = RssBytes();
    activationsSettled = await ActivationsAsync();
    var collected = activationsSettled is { } a && activationsBefore is { } b && a <= b + (sessions / 100);
    var stable = Math.Abs(rss - rssSettled) < rssSettled / 100;
    rssSettled = rss;
    Console.WriteLine($"  settle {settle.Elapsed.TotalSeconds:F0}s silo_rss_mb={Mb(rss)} activations={activationsSettled}");
    if (collected && stable)
    {
        break;
    }
}

// What the silo's heap retains once garbage is collected: Orleans' management grain runs GC.Collect on the silo.
// Reported beside the settled figure, which is what an operator sees without intervention.
var management = grains.GetGrain<IManagementGrain>(0);
await management.ForceGarbageCollection([.. (await management.GetHosts(onlyActive: true)).Keys]);
await Task.Delay(TimeSpan.FromSeconds(3));
var rssCollected = RssBytes();
Console.WriteLine($"after a forced GC: silo_rss_mb={Mb(rssCollected)}");

// The pins must have survived (grains re-read from storage after collection) and the per-backend index must list
// every session: sample a thousand sessions and count the index.
var sample = Math.Min(1_000, sessions);
var verified = 0;
for (var i = 0; i < sample; i++)
{
    var index = (int)((long)i * sessions / sample);
    var pin = await grains.GetGrain<ISessionGrain>(SessionGrainKey.For(pool, SessionId(pool, index))).GetAsync();
    verified += pin?.BackendId == $"b{index % backends}" ? 1 : 0;
}

var indexed = 0L;
for (var b = 0; b < backends; b++)
{
    indexed += (await grains.GetGrain<IBackendSessionsGrain>($"{pool}/b{b}").ListAsync(null, 1)).Total;
}

Console.WriteLine($"verified_pins={verified}/{sample} indexed_sessions={indexed}");
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"sessions={sessions} seconds={pinSeconds:F1} pin_rate={sessions / pinSeconds:F0}/s silo_rss_before_mb={Mb(rssBefore)} " +
    $"silo_rss_after_mb={Mb(rssAfter)} silo_rss_settled_mb={Mb(rssSettled)} silo_rss_gc_mb={Mb(rssCollected)} " +
    $"bytes_per_session_after={(rssAfter - rssBefore) / sessions} bytes_per_session={(rssSettled - rssBefore) / sessions} " +
    $"bytes_per_session_gc={(rssCollected - rssBefore) / sessions} " +
    $"activations_after={activationsAfter} activations_settled={activationsSettled}"));
await host.StopAsync();
return verified == sample && indexed == sessions && failures == 0 ? 0 : 1;
