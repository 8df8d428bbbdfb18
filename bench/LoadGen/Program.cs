using System.Diagnostics;
using System.Globalization;
using HdrHistogram;

// Fixed-rate load: requests are scheduled at a constant rate and each latency is measured from when its request was
// due, not when it was sent, so a stalled server is charged for the requests it delayed (no coordinated omission).
//   LoadGen <url>[,<url>...] <requests per second> <seconds> [connections=64] [keys=10000]
// Prints one line: rate=<achieved> p50=<ms> p99=<ms> p999=<ms> max=<ms> errors=<n> count=<n>
var targets = args[0].Split(',').Select(u => new Uri(u)).ToArray();
var rate = double.Parse(args[1], CultureInfo.InvariantCulture);
var duration = TimeSpan.FromSeconds(double.Parse(args[2], CultureInfo.InvariantCulture));
var connections = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 64;
var keys = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 10_000;

using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
{
    Timeout = TimeSpan.FromSeconds(30),
};
var histogram = new LongConcurrentHistogram(1, TimeStamp.Hours(1), 3);
var errors = 0L;
var total = (long)(rate * duration.TotalSeconds);
var interval = Stopwatch.Frequency / rate;
var start = Stopwatch.GetTimestamp();
var inFlight = new List<Task>((int)Math.Min(total, 1_000_000));
for (long i = 0; i < total; i++)
{
    var due = start + (long)(i * interval);
    var wait = due - Stopwatch.GetTimestamp();
    if (wait > Stopwatch.Frequency / 1000) // timers are ~1 ms coarse: finer waits would make the generator lag
    {
        await Task.Delay(TimeSpan.FromTicks(wait * TimeSpan.TicksPerSecond / Stopwatch.Frequency));
    }

    var index = i;
    inFlight.Add(Task.Run(async () =>
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, targets[index % targets.Length]);
        request.Headers.Add("X-Session-Id", $"user-{index % keys}");
        try
        {
            using var response = await http.SendAsync(request);
            await response.Content.LoadIntoBufferAsync();
            if (!response.IsSuccessStatusCode)
            {
                Interlocked.Increment(ref errors);
            }
        }
        catch (HttpRequestException)
        {
            Interlocked.Increment(ref errors);
        }

        histogram.RecordValue(Math.Max(1, Stopwatch.GetTimestamp() - due) * 1_000_000 / Stopwatch.Frequency);
    }));
}

await Task.WhenAll(inFlight);
var elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
double Ms(double percentile) => histogram.GetValueAtPercentile(percentile) / 1000.0;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"rate={total / elapsed:F0} p50={Ms(50):F3} p99={Ms(99):F3} p999={Ms(99.9):F3} max={histogram.GetMaxValue() / 1000.0:F3} errors={errors} count={total}"));
