using System.Diagnostics;
using System.Globalization;

// Pins N sessions through a running silo, as a gateway would on cache misses, confirms them all again, as gateways do
// periodically, and reports the silo's memory per session after each phase.
//   Distributed.Bench.Sessions --silo-pid <pid> --silo-url http://127.0.0.1:PORT [--sessions 1000000]
//       [--concurrency 256] [--settle 240] [--confirm-settle 60] [--pool bench] [--backends 3] [--warmup 2000]
//       [--markdown path] [--collect-now] [Orleans:* as for gateways]
// Phases: baseline → pin N → settled (session activations collected) → confirmed (every session confirmed again with
// GetOrPinAsync(itsBackend), then its activations gone). Memory after each phase, read from the silo:
//   live heap   sum(dotnet_gc_last_collection_heap_size_bytes) from /metrics, after a full GC forced through the
//               management grain (the scrape is taken once the silo's gen2 collection count moved past it);
//   committed   dotnet_gc_last_collection_memory_committed_size_bytes (what the GC holds from the OS);
//   RSS         /proc/<pid>/status VmRSS (what the OS charges the process).
// Per-session figures are (phase - baseline) / sessions. The target judged is ≤ 1 KiB of silo memory per session.
// Exits non-zero when a correctness check fails: every session newly pinned, every confirmation answered with its pin,
// confirmation-only activations gone within --confirm-settle seconds, a sample of pins reads back, the index counts
// them all. A memory figure over the target is reported, not a failure.
var builder = BenchClusterClient.CreateBuilder(args);
var config = builder.Configuration;
var sessions = config.GetValue("sessions", 1_000_000);
var concurrency = config.GetValue("concurrency", 256);
var settleLimit = TimeSpan.FromSeconds(config.GetValue("settle", 240));
var confirmSettleLimit = TimeSpan.FromSeconds(config.GetValue("confirm-settle", 60));
var pool = config.GetValue("pool", "bench")!;
var backends = config.GetValue("backends", 3);
var warmup = config.GetValue("warmup", 2_000);
var ttl = TimeSpan.FromMinutes(config.GetValue("ttl-minutes", 30));
var siloPid = BenchClusterClient.SiloPid(config);
var siloUrl = new Uri(config["silo-url"] ?? throw new ArgumentException("--silo-url <the silo's http URL, for /metrics> is required."));
var sessionGrainType = config.GetValue("session-grain-type", "session")!;
var markdown = config["markdown"];
var collectNow = config.GetValue("collect-now", false);
const long TargetBytes = 1024;

using var host = builder.Build();
await host.StartAsync();
var grains = host.Services.GetRequiredService<IClusterClient>();
var management = grains.GetGrain<IManagementGrain>(0);
using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
var run = Stopwatch.StartNew();

// Session ids shaped like the gateway's cookie ids (16 random bytes, base64url: 22 characters), reproducible per run.
static string SessionId(string prefix, int i)
{
    Span<byte> raw = stackalloc byte[16];
    new Random(HashCode.Combine(prefix, i)).NextBytes(raw);
    BitConverter.TryWriteBytes(raw, i); // unique whatever the random bytes
    return Convert.ToBase64String(raw).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

// One call per session with `concurrency` in flight, as gateways on cache misses (pin) or confirmations (confirm).
// Returns the sessions whose answer was not the expected one, after up to three attempts each.
// Epochs are the pin-time clock (never repeated), so a confirmation checks the epoch its pin was created with.
var epochs = new Dictionary<string, long[]>(StringComparer.Ordinal);
async Task<long> PassAsync(string poolName, int count, PinOutcome expected, string? progressName)
{
    var wrong = 0L;
    if (!epochs.TryGetValue(poolName, out var poolEpochs) || poolEpochs.Length != count)
    {
        epochs[poolName] = poolEpochs = new long[count];
    }

    using var done = new CancellationTokenSource();
    var clock = Stopwatch.StartNew();
    var progress = progressName is null ? Task.CompletedTask : Task.Run(async () =>
    {
        using var ticks = new PeriodicTimer(TimeSpan.FromSeconds(10));
        while (await ticks.WaitForNextTickAsync(done.Token).AsTask().ContinueWith(t => t.IsCompletedSuccessfully && t.Result, TaskScheduler.Default))
        {
            var metrics = await ScrapeAsync();
            Console.WriteLine($"  {progressName} {clock.Elapsed.TotalSeconds:F0}s silo_rss_mb={Mb(RssBytes())} session_activations={SessionActivations(metrics)}");
        }
    });
    await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (i, cancellationToken) =>
    {
        var grain = grains.GetGrain<ISessionGrain>(GrainKeys.Session(poolName, SessionId(poolName, i)));
        var backend = $"b{i % backends}";
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                // A confirmation proposes the cached backend, as gateways do: the answer must be that pin, unchanged.
                var result = await grain.GetOrPinAsync(new BackendRef(backend, 0), ttl, cancellationToken: cancellationToken);
                var epochRight = expected == PinOutcome.Created
                    ? result.Pin.Epoch > 0 && Interlocked.Exchange(ref poolEpochs[i], result.Pin.Epoch) == 0
                    : result.Pin.Epoch == poolEpochs[i];
                if (result.Outcome != expected || result.Pin.BackendId != backend || !epochRight)
                {
                    Interlocked.Increment(ref wrong);
                }

                return;
            }
            catch (Exception) when (attempt < 3)
            {
                // Gateways retry a failed pin too (e.g. an ETag conflict during a membership change).
            }
        }
    });
    await done.CancelAsync();
    await progress;
    return wrong;
}

async Task<Dictionary<string, double>?> ScrapeAsync()
{
    try
    {
        var text = await http.GetStringAsync(new Uri(siloUrl, "/metrics"));
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            if (space > 0 && double.TryParse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                values[line[..space]] = value;
            }
        }

        return values;
    }
    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
    {
        return null; // a silo busy with a million activations may answer late: the caller polls again
    }
}

// Sum of the series of one metric, optionally only those whose labels contain `label`.
static double? Sum(Dictionary<string, double>? metrics, string name, string? label = null)
{
    if (metrics is null)
    {
        return null;
    }

    var series = metrics.Where(m => (m.Key == name || m.Key.StartsWith(name + "{", StringComparison.Ordinal)) && (label is null || m.Key.Contains(label, StringComparison.Ordinal))).ToList();
    return series.Count == 0 ? null : series.Sum(m => m.Value);
}

long? SessionActivations(Dictionary<string, double>? metrics) => (long?)Sum(metrics, "orleans_catalog_activations", $"grain_type=\"{sessionGrainType}\"") ?? (metrics is null ? null : 0);

long RssBytes()
{
    var line = File.ReadLines($"/proc/{siloPid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
}

static string Mb(double bytes) => (bytes / 1048576.0).ToString("F0", CultureInfo.InvariantCulture);

// Orleans' management grain runs GC.Collect() (blocking, full) on the silo. The scrape used is one taken after the
// silo's gen2 collection count moved past its value before the request, so the heap figures describe that GC.
async Task<Dictionary<string, double>> ForcedGcAsync()
{
    double? Gen2(Dictionary<string, double>? m) => Sum(m, "dotnet_gc_collections_total", "gc_heap_generation=\"gen2\"");
    var deadline = Stopwatch.StartNew();
    var before = Gen2(await ScrapeAsync());
    while (before is null && deadline.Elapsed < TimeSpan.FromSeconds(60))
    {
        await Task.Delay(500);
        before = Gen2(await ScrapeAsync());
    }

    await management.ForceGarbageCollection([.. (await management.GetHosts(onlyActive: true)).Keys]);
    while (true)
    {
        var metrics = await ScrapeAsync();
        if (metrics is not null && (before is null || Gen2(metrics) > before))
        {
            return metrics;
        }

        if (deadline.Elapsed > TimeSpan.FromSeconds(60))
        {
            throw new TimeoutException("The silo's /metrics never showed the forced GC.");
        }

        await Task.Delay(250);
    }
}

var phases = new List<Phase>();
Phase Record(string name, Dictionary<string, double>? metrics, bool forcedGc)
{
    var phase = new Phase(name, forcedGc, SessionActivations(metrics), (long?)Sum(metrics, "dotnet_gc_last_collection_heap_size_bytes"),
        (long?)Sum(metrics, "dotnet_gc_last_collection_memory_committed_size_bytes"), RssBytes());
    phases.Add(phase);
    var first = phases[0];
    var perSession = phase == first ? "" : $" live_bytes_per_session={PerSession(phase.Heap, first.Heap)} committed_bytes_per_session={PerSession(phase.Committed, first.Committed)} rss_bytes_per_session={PerSession(phase.Rss, first.Rss)}";
    Console.WriteLine($"{name}{(forcedGc ? " (after a forced GC)" : "")}: session_activations={phase.Activations} live_heap_mb={Mb(phase.Heap ?? 0)} committed_mb={Mb(phase.Committed ?? 0)} rss_mb={Mb(phase.Rss)}{perSession}");
    return phase;
}

string PerSession(long? value, long? baseline) => value is { } v && baseline is { } b ? ((v - b) / sessions).ToString(CultureInfo.InvariantCulture) : "-";

// Polls the session activation count until it is back down to `floor` (plus 0.1% of the sessions), or the limit.
async Task<(bool Collected, TimeSpan Took, Dictionary<string, double>? Last)> SettleAsync(string name, long floor, TimeSpan limit)
{
    var clock = Stopwatch.StartNew();
    var slack = Math.Max(50, sessions / 1000);
    Dictionary<string, double>? metrics = null;
    var lastPrint = TimeSpan.Zero;
    while (true)
    {
        metrics = await ScrapeAsync();
        var activations = SessionActivations(metrics);
        var collected = activations is { } a && a <= floor + slack;
        if (collected || clock.Elapsed > limit || clock.Elapsed - lastPrint >= TimeSpan.FromSeconds(10))
        {
            lastPrint = clock.Elapsed;
            Console.WriteLine($"  {name} {clock.Elapsed.TotalSeconds:F0}s silo_rss_mb={Mb(RssBytes())} session_activations={activations}");
        }

        if (collected || clock.Elapsed > limit)
        {
            return (collected, clock.Elapsed, metrics);
        }

        await Task.Delay(TimeSpan.FromSeconds(1));
    }
}

// Warm-up (JIT, pools, connections, the deactivation path are not charged to sessions): pin, collect, confirm.
Console.WriteLine($"warm-up: {warmup} sessions in pool {pool}-warmup");
await PinAndCheck($"{pool}-warmup", warmup, PinOutcome.Created);
if (SessionActivations(await ScrapeAsync()) is null or 0)
{
    throw new InvalidOperationException($"The silo's /metrics shows no orleans_catalog_activations for grain_type=\"{sessionGrainType}\" (--session-grain-type).");
}

await management.ForceActivationCollection(TimeSpan.Zero);
await SettleAsync("warm-up collection", 0, TimeSpan.FromSeconds(60));
await PinAndCheck($"{pool}-warmup", warmup, PinOutcome.Existing);
await SettleAsync("warm-up confirmation", 0, TimeSpan.FromSeconds(60));
async Task PinAndCheck(string poolName, int count, PinOutcome expected)
{
    if (await PassAsync(poolName, count, expected, null) > 0)
    {
        throw new InvalidOperationException($"Warm-up: some sessions of {poolName} were not {expected}.");
    }
}

var baseline = Record("baseline", await ForcedGcAsync(), forcedGc: true);
var floor = baseline.Activations ?? 0;

Console.WriteLine($"pinning {sessions} sessions, {concurrency} in flight");
var pinClock = Stopwatch.StartNew();
var notCreated = await PassAsync(pool, sessions, PinOutcome.Created, "pinning");
var pinSeconds = pinClock.Elapsed.TotalSeconds;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"pinned: {pinSeconds:F1}s pin_rate={sessions / pinSeconds:F0}/s not_created={notCreated}"));
Record("pinned", await ScrapeAsync(), forcedGc: false);

// Idle session grains are collected by Orleans after their collection age (checked every collection quantum);
// --collect-now (smoke runs) asks for that collection at once instead of waiting two minutes.
if (collectNow)
{
    await management.ForceActivationCollection(TimeSpan.Zero);
}

var settled = await SettleAsync("settling", floor, settleLimit);
Record("settled", settled.Last, forcedGc: false);
Record("settled", await ForcedGcAsync(), forcedGc: true);

// Every session confirmed once more, as each gateway does per cached, in-use pin and PinCache:ConfirmInterval: each
// call wakes a collected grain, which answers and leaves memory again at once (DeactivateOnIdle).
Console.WriteLine($"confirming {sessions} sessions, {concurrency} in flight");
var confirmClock = Stopwatch.StartNew();
var notConfirmed = await PassAsync(pool, sessions, PinOutcome.Existing, "confirming");
var confirmSeconds = confirmClock.Elapsed.TotalSeconds;
var afterConfirm = await ScrapeAsync();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"confirmed: {confirmSeconds:F1}s confirm_rate={sessions / confirmSeconds:F0}/s not_confirmed={notConfirmed} session_activations={SessionActivations(afterConfirm)}"));
var confirmSettled = await SettleAsync("confirmation settling", floor, confirmSettleLimit);
Record("confirmed", await ForcedGcAsync(), forcedGc: true);

// Does a second full GC give memory back? (Reported, for the operator question "can RSS come down after a burst".)
Record("confirmed (2nd)", await ForcedGcAsync(), forcedGc: true);

// The pins must have survived (grains re-read from storage after collection) and the per-backend index must list
// every session: sample a thousand sessions and count the index.
var sample = Math.Min(1_000, sessions);
var verified = 0;
for (var i = 0; i < sample; i++)
{
    var index = (int)((long)i * sessions / sample);
    var pin = await grains.GetGrain<ISessionGrain>(GrainKeys.Session(pool, SessionId(pool, index))).GetAsync();
    verified += pin?.BackendId == $"b{index % backends}" ? 1 : 0;
}

var indexed = 0L;
for (var b = 0; b < backends; b++)
{
    indexed += (await grains.GetGrain<IBackendSessionsGrain>(GrainKeys.Backend(pool, $"b{b}")).ListAsync(null, 1)).Total;
}

var checks = new (string Name, bool Ok, string Detail)[]
{
    ("every session newly pinned", notCreated == 0, $"not_created={notCreated}"),
    ("every confirmation answered with its pin", notConfirmed == 0, $"not_confirmed={notConfirmed}"),
    ("confirmation-only activations left promptly", confirmSettled.Collected,
        string.Create(CultureInfo.InvariantCulture, $"back to baseline {confirmSettled.Took.TotalSeconds:F0}s after the pass (limit {confirmSettleLimit.TotalSeconds:F0}s, below the 2-minute idle collection age)")),
    ("pins read back", verified == sample, $"verified_pins={verified}/{sample}"),
    ("index lists every session", indexed == sessions, $"indexed_sessions={indexed}"),
};
foreach (var check in checks)
{
    Console.WriteLine($"check: {(check.Ok ? "ok  " : "FAIL")} {check.Name} ({check.Detail})");
}

// The target: ≤ 1 KiB of silo memory per pinned session, judged on the settled state (sessions pinned, their grains
// collected), after a forced GC; RSS also as an operator sees it without intervention.
var settledNoGc = phases.First(p => p.Name == "settled" && !p.ForcedGc);
var settledGc = phases.First(p => p.Name == "settled" && p.ForcedGc);
var confirmedGc = phases.First(p => p.Name == "confirmed");
var verdicts = new (string Figure, long? Bytes)[]
{
    ("live heap, settled", Delta(settledGc.Heap, baseline.Heap)),
    ("live heap, after the confirmation pass", Delta(confirmedGc.Heap, baseline.Heap)),
    ("GC committed, settled", Delta(settledGc.Committed, baseline.Committed)),
    ("RSS, settled (no forced GC)", Delta(settledNoGc.Rss, baseline.Rss)),
    ("RSS, settled (forced GC)", Delta(settledGc.Rss, baseline.Rss)),
    ("RSS, after the confirmation pass (forced GC)", Delta(confirmedGc.Rss, baseline.Rss)),
};
long? Delta(long? value, long? from) => value is { } v && from is { } f ? (v - f) / sessions : null;
var verdictLines = verdicts.Select(v => v.Bytes is { } bytes
    ? $"{v.Figure}: {bytes} B/session {(bytes <= TargetBytes ? "meets" : "misses")} the ≤ {TargetBytes} B target"
    : $"{v.Figure}: not measured").ToList();
var scope = sessions == 1_000_000 ? "with 1,000,000 pinned sessions" : $"measured with {sessions:N0} sessions, not the 1,000,000 of the target";
Console.WriteLine($"target ≤ 1 KiB of silo memory per session ({scope}):");
verdictLines.ForEach(l => Console.WriteLine($"  {l}"));

var duration = run.Elapsed;
if (markdown is not null)
{
    var lines = new List<string>
    {
        string.Create(CultureInfo.InvariantCulture, $"Pin rate {sessions / pinSeconds:F0}/s ({sessions:N0} sessions in {pinSeconds:F0} s, {concurrency} in flight); confirmation pass {sessions / confirmSeconds:F0}/s; settle {settled.Took.TotalSeconds:F0} s; run {duration.TotalSeconds:F0} s."),
        "",
        "| phase | session activations | live heap MB | committed MB | RSS MB | live bytes/session | committed bytes/session | RSS bytes/session |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    };
    lines.AddRange(phases.Select(p => $"| {p.Name}{(p.ForcedGc ? " + GC" : "")} | {p.Activations?.ToString(CultureInfo.InvariantCulture) ?? "-"} | {Mb(p.Heap ?? 0)} | {Mb(p.Committed ?? 0)} | {Mb(p.Rss)} | " +
        (p == baseline ? "| | |" : $"{PerSession(p.Heap, baseline.Heap)} | {PerSession(p.Committed, baseline.Committed)} | {PerSession(p.Rss, baseline.Rss)} |")));
    lines.Add("");
    lines.Add($"Target ≤ 1 KiB of silo memory per session ({scope}):");
    lines.AddRange(verdictLines.Select(l => $"- {l}"));
    lines.Add("");
    lines.AddRange(checks.Select(c => $"- check {(c.Ok ? "ok" : "FAILED")}: {c.Name} ({c.Detail})"));
    await File.WriteAllLinesAsync(markdown, lines);
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"sessions={sessions} pin_rate={sessions / pinSeconds:F0}/s confirm_rate={sessions / confirmSeconds:F0}/s " +
    $"live_bytes_per_session={Delta(settledGc.Heap, baseline.Heap)} committed_bytes_per_session={Delta(settledGc.Committed, baseline.Committed)} " +
    $"rss_bytes_per_session={Delta(settledNoGc.Rss, baseline.Rss)} rss_bytes_per_session_gc={Delta(settledGc.Rss, baseline.Rss)} " +
    $"live_bytes_per_session_confirmed={Delta(confirmedGc.Heap, baseline.Heap)} rss_bytes_per_session_confirmed={Delta(confirmedGc.Rss, baseline.Rss)} seconds={duration.TotalSeconds:F0}"));
await host.StopAsync();
return checks.All(c => c.Ok) ? 0 : 1;

internal sealed record Phase(string Name, bool ForcedGc, long? Activations, long? Heap, long? Committed, long Rss);
