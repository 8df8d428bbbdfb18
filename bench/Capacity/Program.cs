using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Text;

// The unit costs behind docs/scaling.md, measured against one running silo by one Orleans client:
//   1. Pool-grain report capacity: N simulated gateways, each reporting its load to one pool grain every interval (as
//      ClusterLoadReporter does), for N stepping up until the reports' p99 latency exceeds the limit in two steps in a
//      row. Per step: reports/s, latency percentiles, and the silo's CPU per report (its utime+stime over the step,
//      less its idle rate).
//   2. Session pins: N new sessions pinned (GetOrPinAsync, as a gateway on a first visit), `concurrency` in flight. Silo
//      (and Redis, given its pid) CPU per pin, so pins/s per core = 1 s / CPU per pin.
//   Distributed.Bench.Capacity --silo-pid <pid> [--redis-pid <pid>] [--gateways 25,50,100,200,400,800,1600]
//       [--step-seconds 10] [--interval-ms 200] [--p99-limit-ms 50] [--backends 3] [--pins 100000] [--concurrency 256]
//       [--markdown path] [Orleans:* as for gateways]
// Everything runs on one machine: the client's own work competes with the silo's, so capacities are lower bounds.
var builder = BenchClusterClient.CreateBuilder(args);
var config = builder.Configuration;
var siloPid = BenchClusterClient.SiloPid(config);
var redisPid = config.GetValue<int?>("redis-pid");
var steps = (config["gateways"] ?? "25,50,100,200,400,800,1600").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
var stepTime = TimeSpan.FromSeconds(config.GetValue("step-seconds", 10.0));
var interval = TimeSpan.FromMilliseconds(config.GetValue("interval-ms", 200));
var p99Limit = config.GetValue("p99-limit-ms", 50.0);
var backendCount = config.GetValue("backends", 3);
var pins = config.GetValue("pins", 100_000);
var concurrency = config.GetValue("concurrency", 256);
var markdown = config["markdown"];
var ticksPerSecond = 100.0; // USER_HZ on Linux

using var host = builder.Build();
await host.StartAsync();
var grains = host.Services.GetRequiredService<IClusterClient>();
var output = new StringBuilder();
void Line(string text)
{
    Console.WriteLine(text);
    output.AppendLine(text);
}

// A pool of its own per run, probing off (no backends behind it): the figures are the reports' own cost.
var poolName = $"capacity-{Guid.NewGuid():N}"[..17];
var backendIds = Enumerable.Range(1, backendCount).Select(i => $"b{i}").ToArray();
var pool = grains.GetGrain<IPoolGrain>(poolName);
var settings = PoolSettings.Default with { Active = ActiveHealthSettings.Default with { Path = "" } };
await pool.InitializeAsync([.. backendIds.Select(id => new BackendSpec(id, $"http://127.0.0.1:9/{id}/", 100))], settings);

// Warm-up (JIT on both sides, connections, the pool grain's activation), then the silo's idle CPU rate (timers,
// membership, the pool grain's own ticks) with the warm-up's gateways gone: it is subtracted from every step.
var idlePerSecond = 0.0;
await ReportStepAsync(steps[0]);
await PinAsync($"{poolName}-warmup", Math.Min(pins, 2_000), PinOutcome.Created);
await Task.Delay(interval * 5 + TimeSpan.FromSeconds(1)); // the warm-up gateways' leases run out
var idleTicks = CpuTicks(siloPid);
var idleClock = Stopwatch.StartNew();
await Task.Delay(TimeSpan.FromSeconds(5));
idlePerSecond = (CpuTicks(siloPid) - idleTicks) / idleClock.Elapsed.TotalSeconds;

Line($"## Pool grain: load reports from simulated gateways, one every {interval.TotalMilliseconds:F0} ms each");
Line("");
Line($"One pool grain, {backendCount} backends; {stepTime.TotalSeconds:F0} s per step; silo idle CPU {idlePerSecond / ticksPerSecond * 1000:F0} ms/s subtracted.");
Line("");
Line("| gateways | reports/s | p50 ms | p99 ms | max ms | failed | silo CPU µs / report | silo CPU, cores |");
Line("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
// A shared host stalls now and then for longer than the limit; one step over it is noise, two in a row are the end.
var capacity = 0;
var over = 0;
foreach (var gateways in steps)
{
    var step = await ReportStepAsync(gateways);
    Line(step.Row);
    over = step.P99 > p99Limit ? over + 1 : 0;
    if (over == 2)
    {
        break;
    }

    if (over == 0)
    {
        capacity = gateways;
    }
}

Line("");
Line($"Largest step with report p99 ≤ {p99Limit:F0} ms (the run ends after two steps over it in a row): {(capacity == 0 ? "none" : capacity.ToString(CultureInfo.InvariantCulture))}{(capacity == steps[^1] ? " (the largest step tried)" : "")} gateways.");
Line("");

// Session pins: what a first visit costs the cluster.
Line($"## Session pins: {pins:N0} new sessions, {concurrency} in flight");
Line("");
var silo0 = CpuTicks(siloPid);
var redis0 = redisPid is { } r0 ? CpuTicks(r0) : 0;
var pinClock = Stopwatch.StartNew();
var failed = await PinAsync($"{poolName}-pins", pins, PinOutcome.Created);
var pinSeconds = pinClock.Elapsed.TotalSeconds;
var siloPerPin = ((CpuTicks(siloPid) - silo0) - idlePerSecond * pinSeconds) / ticksPerSecond / pins * 1e6;
var redisPerPin = redisPid is { } r1 ? $"{(CpuTicks(r1) - redis0) / ticksPerSecond / pins * 1e6:F1}" : "-";

// The same sessions asked again at once (their activations still resident): a gateway's cache miss on a known pin.
silo0 = CpuTicks(siloPid);
redis0 = redisPid is { } r2 ? CpuTicks(r2) : 0;
pinClock.Restart();
var wrongAgain = await PinAsync($"{poolName}-pins", pins, PinOutcome.Existing);
var againSeconds = pinClock.Elapsed.TotalSeconds;
var siloPerAgain = ((CpuTicks(siloPid) - silo0) - idlePerSecond * againSeconds) / ticksPerSecond / pins * 1e6;
var redisPerAgain = redisPid is { } r3 ? $"{(CpuTicks(r3) - redis0) / ticksPerSecond / pins * 1e6:F1}" : "-";
failed += wrongAgain;
Line("| call | calls/s | silo CPU µs / call | calls/s per silo core | Redis CPU µs / call | wrong |");
Line("| --- | ---: | ---: | ---: | ---: | ---: |");
Line($"| new pin (GetOrPinAsync, created) | {pins / pinSeconds:F0} | {siloPerPin:F1} | {1e6 / siloPerPin:F0} | {redisPerPin} | {failed - wrongAgain} |");
Line($"| known pin, resident (GetOrPinAsync, existing) | {pins / againSeconds:F0} | {siloPerAgain:F1} | {1e6 / siloPerAgain:F0} | {redisPerAgain} | {wrongAgain} |");

if (markdown is not null)
{
    await File.WriteAllTextAsync(markdown, output.ToString());
}

await host.StopAsync();
return failed == 0 ? 0 : 1;

// Asks `count` sessions of `poolName` for their pin, `concurrency` in flight; returns how many answers were not `expected`.
async Task<long> PinAsync(string poolName, int count, PinOutcome expected)
{
    var wrong = 0L;
    await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (i, cancellationToken) =>
    {
        var grain = grains.GetGrain<ISessionGrain>(GrainKeys.Session(poolName, $"s{i}"));
        try
        {
            var result = await grain.GetOrPinAsync(new BackendRef(backendIds[i % backendIds.Length], 0), TimeSpan.FromMinutes(30), cancellationToken: cancellationToken);
            if (result.Outcome != expected)
            {
                Interlocked.Increment(ref wrong);
            }
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            Interlocked.Increment(ref wrong);
        }
    });
    return wrong;
}

// One step: `gateways` reporters for stepTime, each on its own schedule (a random phase within the interval, as real
// gateways start at random times), reports awaited one at a time per gateway as ClusterLoadReporter does.
async Task<(string Row, double P99)> ReportStepAsync(int gateways)
{
    var samples = new ConcurrentBag<double>();
    var failures = 0L;
    using var stop = new CancellationTokenSource();
    var ticks0 = CpuTicks(siloPid);
    var clock = Stopwatch.StartNew();
    var reporters = Enumerable.Range(0, gateways).Select(g => Task.Run(async () =>
    {
        var id = $"sim-{g}";
        var random = new Random(g);
        try
        {
            await Task.Delay(TimeSpan.FromMilliseconds(random.NextDouble() * interval.TotalMilliseconds), stop.Token);
            using var timer = new PeriodicTimer(interval);
            do
            {
                var load = backendIds.Select(b => new BackendLoad(b, random.Next(0, 50), random.Next(0, 2000))).ToImmutableArray();
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await pool.ReportAsync(new LoadReport(id, load, interval * 5), stop.Token);
                    samples.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
                catch (Exception) when (!stop.IsCancellationRequested)
                {
                    Interlocked.Increment(ref failures);
                }
            }
            while (await timer.WaitForNextTickAsync(stop.Token));
        }
        catch (OperationCanceledException)
        {
        }
    })).ToArray();
    await Task.Delay(stepTime);
    var seconds = clock.Elapsed.TotalSeconds;
    var ticks = CpuTicks(siloPid) - ticks0;
    await stop.CancelAsync();
    await Task.WhenAll(reporters);
    var sorted = samples.Order().ToArray();
    double At(double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
    var busy = Math.Max(0, ticks - idlePerSecond * seconds) / ticksPerSecond;
    var perReport = sorted.Length == 0 ? double.NaN : busy / sorted.Length * 1e6;
    var p99 = At(0.99);
    return (string.Create(CultureInfo.InvariantCulture, $"| {gateways} | {sorted.Length / seconds:F0} | {At(0.5):F2} | {p99:F2} | {(sorted.Length == 0 ? double.NaN : sorted[^1]):F1} | {failures} | {perReport:F1} | {busy / seconds:F2} |"), double.IsNaN(p99) ? double.MaxValue : p99);
}

static long CpuTicks(int pid)
{
    // /proc/<pid>/stat: the command may contain spaces, so fields are counted after its closing parenthesis.
    var stat = File.ReadAllText($"/proc/{pid}/stat");
    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
}
