using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Tasks.Sources;
using HdrHistogram;

// Fixed-rate load, wrk2 model: requests are scheduled at a constant rate and each latency is measured from when its
// request was due, not when it was sent, so a stalled server is charged for the requests it delayed (no coordinated
// omission). Lean on purpose, so the generator does not take the CPU the targets need: plain HTTP/1.1 over persistent
// sockets, one async loop per connection, requests written from pre-encoded bytes, responses parsed in place.
//   LoadGen <url>[,<url>...] <requests per second> <seconds> [connections=64] [keys=10000] [timeline.csv]
// Prints one line: rate=<achieved> p50=<ms> p99=<ms> p999=<ms> max=<ms> errors=<n> count=<n> slow=<n> start=<unix s>:
// slow counts the requests slower than 100 ms (the stalls bench/tail.sh looks for), start is when the schedule began
// (the timeline's second 0). With a timeline file it also writes,
// for every second of the schedule (by when each request was due), its requests, how many were slower than 100 ms and
// the slowest: second,requests,slow,max_ms.
// Request i is `GET <path>` to URL i % urls with `X-Session-Id: user-<i % keys>`, due at start + i / rate. The
// connections are split evenly over the URLs; a failed or timed-out (30 s) request counts as an error, its
// connection is re-opened and the run goes on. A non-2xx answer is an error too (its latency is still recorded).
// Thread hand-offs are what cost most here, so there are almost none: a connection waiting for its next request is
// woken by one pacer thread (no timer per request), which sends it there and then; responses are handled on the
// socket engine's own thread (inline completions: set before the first socket exists, read once by the runtime).
Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
var urls = args[0].Split(',').Select(u => new Uri(u)).ToArray();
var rate = double.Parse(args[1], CultureInfo.InvariantCulture);
var duration = TimeSpan.FromSeconds(double.Parse(args[2], CultureInfo.InvariantCulture));
var connections = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 64;
var keys = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 10_000;
var timeline = args.Length > 5 ? args[5] : null;

var targets = new Target[urls.Length];
for (var t = 0; t < urls.Length; t++)
{
    targets[t] = await Target.CreateAsync(urls[t], t);
}

var run = new Run((long)(rate * duration.TotalSeconds), Stopwatch.Frequency / rate, urls.Length, keys, (int)Math.Ceiling(duration.TotalSeconds));
var pacer = new Pacer();
var workers = Enumerable.Range(0, Math.Max(connections, urls.Length)).Select(c => new Worker(run, targets[c % urls.Length], pacer)).ToArray();
await Task.WhenAll(workers.Select(w => w.ConnectAsync())); // connecting is not part of the measured schedule
run.Start = Stopwatch.GetTimestamp();
var startedAt = DateTimeOffset.UtcNow; // so a timeline can be laid beside other per-second records
var all = Task.WhenAll(workers.Select(w => Task.Run(w.RunAsync)));
while (await Task.WhenAny(all, Task.Delay(250)) != all)
{
    var now = Stopwatch.GetTimestamp();
    foreach (var worker in workers)
    {
        worker.AbortIfOverdue(now);
    }
}

await all;
var elapsed = Stopwatch.GetElapsedTime(run.Start).TotalSeconds;
pacer.Stop();
if (run.Errors > 0)
{
    await Console.Error.WriteLineAsync($"LoadGen: {run.Errors} errors; first: {run.FirstError}");
}

double Ms(double percentile) => run.Histogram.GetValueAtPercentile(percentile) / 1000.0;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"rate={run.Total / elapsed:F0} p50={Ms(50):F3} p99={Ms(99):F3} p999={Ms(99.9):F3} max={run.Histogram.GetMaxValue() / 1000.0:F3} errors={run.Errors} count={run.Total} slow={run.Seconds.Sum(s => s.Slow)} start={startedAt.ToUnixTimeMilliseconds() / 1000.0:F3}"));
if (timeline is not null)
{
    await File.WriteAllLinesAsync(timeline, ["second,requests,slow,max_ms", .. run.Seconds.Select((s, i) => string.Create(CultureInfo.InvariantCulture, $"{i},{s.Requests},{s.Slow},{s.MaxMicroseconds / 1000.0:F3}"))]);
}

/// <summary>The global schedule and the results every connection shares.</summary>
internal sealed class Run(long total, double interval, int targets, int keys, int seconds)
{
    /// <summary>A request slower than this (microseconds) is a stall the tail run counts.</summary>
    public const long SlowMicroseconds = 100_000;

    private long _errors;
    private string? _firstError;

    public long Total { get; } = total;

    /// <summary>Stopwatch ticks between two consecutive requests.</summary>
    public double Interval { get; } = interval;

    public int Targets { get; } = targets;

    public int Keys { get; } = keys;

    public long Start { get; set; }

    public LongConcurrentHistogram Histogram { get; } = new(1, TimeStamp.Hours(1), 3);

    /// <summary>Per second of the schedule (by when the request was due): requests, slow ones, the slowest.</summary>
    public Second[] Seconds { get; } = [.. Enumerable.Range(0, Math.Max(1, seconds)).Select(_ => new Second())];

    /// <summary>Records one request's latency, due <paramref name="due"/> (a timestamp).</summary>
    public void Record(long due, long microseconds)
    {
        Histogram.RecordValue(microseconds);
        Seconds[Math.Clamp((int)((due - Start) / Stopwatch.Frequency), 0, Seconds.Length - 1)].Record(microseconds);
    }

    public long Errors => Interlocked.Read(ref _errors);

    public string? FirstError => Volatile.Read(ref _firstError);

    public void Error(string reason)
    {
        Interlocked.Increment(ref _errors);
        Interlocked.CompareExchange(ref _firstError, reason, null);
    }
}

/// <summary>One second of the schedule: what the timeline of a tail run shows.</summary>
internal sealed class Second
{
    private long _requests;
    private long _slow;
    private long _max;

    public long Requests => Interlocked.Read(ref _requests);

    public long Slow => Interlocked.Read(ref _slow);

    public long MaxMicroseconds => Interlocked.Read(ref _max);

    public void Record(long microseconds)
    {
        Interlocked.Increment(ref _requests);
        if (microseconds > Run.SlowMicroseconds)
        {
            Interlocked.Increment(ref _slow);
        }

        for (var max = Interlocked.Read(ref _max); microseconds > max; max = Interlocked.Read(ref _max))
        {
            if (Interlocked.CompareExchange(ref _max, microseconds, max) == max)
            {
                break;
            }
        }
    }
}

/// <summary>One URL: where to connect, the request bytes up to the session key, and its share of the schedule.</summary>
internal sealed class Target
{
    private long _taken;

    private Target(int index, EndPoint endPoint, byte[] prefix)
    {
        Index = index;
        EndPoint = endPoint;
        Prefix = prefix;
    }

    public int Index { get; }

    public EndPoint EndPoint { get; }

    /// <summary>`GET path HTTP/1.1`, Host and `X-Session-Id: user-`; the key digits and the final CRLFs follow.</summary>
    public byte[] Prefix { get; }

    public static ReadOnlySpan<byte> Suffix => "\r\n\r\n"u8;

    public static async Task<Target> CreateAsync(Uri uri, int index)
    {
        if (uri.Scheme != Uri.UriSchemeHttp)
        {
            throw new NotSupportedException($"LoadGen speaks plain HTTP only: {uri}");
        }

        if (!IPAddress.TryParse(uri.DnsSafeHost, out var address))
        {
            var addresses = await Dns.GetHostAddressesAsync(uri.DnsSafeHost);
            address = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses[0];
        }

        var prefix = Encoding.ASCII.GetBytes($"GET {uri.PathAndQuery} HTTP/1.1\r\nHost: {uri.Authority}\r\nX-Session-Id: user-");
        return new Target(index, new IPEndPoint(address, uri.Port), prefix);
    }

    /// <summary>The next request of this URL's share: its n-th is request n * targets + index of the whole run.</summary>
    public long Take(int targets) => (Interlocked.Increment(ref _taken) - 1) * targets + Index;
}

/// <summary>One persistent connection: takes the next request due, sends it, reads the whole response, records it.</summary>
internal sealed class Worker : IValueTaskSource
{
    private static readonly long Timeout = 30 * Stopwatch.Frequency;

    private readonly Run _run;
    private readonly Target _target;
    private readonly Pacer _pacer;
    private readonly byte[] _request;
    private readonly byte[] _buffer = new byte[16 * 1024];
    private readonly ResponseParser _parser = new();
    private Socket? _socket;
    private bool _reused;
    private ManualResetValueTaskSourceCore<bool> _due; // continuations run on the pacer thread that completes it

    /// <summary>When the current request started (0: idle; -1: the watchdog aborted it).</summary>
    private long _busySince;

    public Worker(Run run, Target target, Pacer pacer)
    {
        _run = run;
        _target = target;
        _pacer = pacer;
        _request = new byte[target.Prefix.Length + 20 + Target.Suffix.Length];
        target.Prefix.CopyTo(_request, 0);
    }

    public async Task RunAsync()
    {
        while (true)
        {
            var index = _target.Take(_run.Targets);
            if (index >= _run.Total)
            {
                break;
            }

            var due = _run.Start + (long)(index * _run.Interval);
            if (due - Stopwatch.GetTimestamp() >= Pacer.Millisecond) // less than that ahead: send now
            {
                _due.Reset();
                _pacer.Enqueue(this, due);
                await new ValueTask(this, _due.Version);
            }

            var sent = Stopwatch.GetTimestamp();
            Volatile.Write(ref _busySince, sent);
            var status = 0;
            string? failure = null;
            try
            {
                status = await ExchangeAsync(index % _run.Keys);
            }
#pragma warning disable CA1031 // Any failure of one request is an error of the run, never the end of it.
            catch (Exception e)
#pragma warning restore CA1031
            {
                failure = e.Message;
            }

            var end = Stopwatch.GetTimestamp();
            if (Interlocked.Exchange(ref _busySince, 0) == -1)
            {
                failure = "timed out after 30 s";
            }

            if (failure is not null)
            {
                Close();
                _run.Error(failure);
            }
            else if (status is < 200 or > 299)
            {
                _run.Error($"HTTP {status}");
            }

            // Sent late: charged from when it was due. Sent early (timer slack): from when it was sent.
            _run.Record(due, Math.Max(1, (end - Math.Min(due, sent)) * 1_000_000 / Stopwatch.Frequency));
        }

        Close();
    }

    /// <summary>Called by the pacer when the request this worker waits for is due: sends it on the calling thread.</summary>
    public void Wake() => _due.SetResult(true);

    void IValueTaskSource.GetResult(short token) => _due.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _due.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _due.OnCompleted(continuation, state, token, flags);

    /// <summary>Called by the watchdog: a request busy for longer than the timeout loses its connection.</summary>
    public void AbortIfOverdue(long now)
    {
        var since = Volatile.Read(ref _busySince);
        if (since > 0 && now - since > Timeout && Interlocked.CompareExchange(ref _busySince, -1, since) == since)
        {
            Volatile.Read(ref _socket)?.Dispose();
        }
    }

    /// <summary>Sends one request and reads its response; returns the status code.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ExchangeAsync(long key)
    {
        Utf8Formatter.TryFormat(key, _request.AsSpan(_target.Prefix.Length), out var digits);
        var length = _target.Prefix.Length + digits;
        Target.Suffix.CopyTo(_request.AsSpan(length));
        length += Target.Suffix.Length;
        while (true)
        {
            // A kept-alive connection the server closed while idle fails before any byte of the answer: resend once
            // on a fresh one (as HTTP clients do), rather than charge the target with an error.
            var reused = _reused;
            try
            {
                return await ExchangeOnceAsync(length);
            }
            catch (Exception e) when (e is SocketException or EndOfStreamException && reused && !_parser.Started && Volatile.Read(ref _busySince) != -1)
            {
            }

            Close();
        }
    }

    private async ValueTask<int> ExchangeOnceAsync(int length)
    {
        var socket = _socket ?? await OpenAsync(CancellationToken.None);

        _parser.Reset();
        for (var offset = 0; offset < length;)
        {
            offset += await socket.SendAsync(_request.AsMemory(offset, length - offset), SocketFlags.None);
        }

        while (true)
        {
            var read = await socket.ReceiveAsync(_buffer, SocketFlags.None);
            if (read == 0)
            {
                if (_parser.ReadsToClose)
                {
                    Close();
                    return _parser.Status;
                }

                throw new EndOfStreamException("connection closed before the end of the response");
            }

            var consumed = _parser.Feed(_buffer.AsSpan(0, read));
            if (_parser.Done)
            {
                _reused = true;
                if (_parser.Close || consumed < read) // bytes past the response: out of step, start afresh
                {
                    Close();
                }

                return _parser.Status;
            }
        }
    }

    /// <summary>Opens the connection ahead of the run; if that fails, its first request will try again.</summary>
    public async Task ConnectAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await OpenAsync(timeout.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            Close();
        }
    }

    private async ValueTask<Socket> OpenAsync(CancellationToken cancellation)
    {
        var socket = new Socket(_target.EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Volatile.Write(ref _socket, socket); // before connecting: the watchdog can abort a connect that hangs
        _reused = false;
        await socket.ConnectAsync(_target.EndPoint, cancellation);
        return socket;
    }

    private void Close()
    {
        Interlocked.Exchange(ref _socket, null)?.Dispose();
        _reused = false;
    }
}

/// <summary>
/// Wakes each waiting worker when its request is due, within a millisecond (earlier rather than later: a request sent
/// early is timed from its sending, one sent late from when it was due). One thread, at most ~1,000 wake-ups a second
/// whatever the rate, and the requests go out from it: no timer and no thread-pool hop per request.
/// </summary>
internal sealed class Pacer
{
    public static readonly long Millisecond = Stopwatch.Frequency / 1000;

    private readonly PriorityQueue<Worker, long> _waiting = new();
    private bool _stopped;

    public Pacer()
    {
        new Thread(Loop) { IsBackground = true, Name = "LoadGen pacer" }.Start();
    }

    public void Enqueue(Worker worker, long due)
    {
        lock (_waiting)
        {
            var earliest = !_waiting.TryPeek(out _, out var first) || due < first;
            _waiting.Enqueue(worker, due);
            if (earliest)
            {
                Monitor.Pulse(_waiting);
            }
        }
    }

    public void Stop()
    {
        lock (_waiting)
        {
            _stopped = true;
            Monitor.Pulse(_waiting);
        }
    }

    private void Loop()
    {
        var ready = new List<Worker>();
        while (true)
        {
            lock (_waiting)
            {
                while (true)
                {
                    if (_stopped)
                    {
                        return;
                    }

                    if (!_waiting.TryPeek(out _, out var due))
                    {
                        Monitor.Wait(_waiting);
                        continue;
                    }

                    var ahead = due - Stopwatch.GetTimestamp();
                    if (ahead < Millisecond)
                    {
                        break;
                    }

                    Monitor.Wait(_waiting, (int)(ahead / Millisecond));
                }

                var now = Stopwatch.GetTimestamp();
                while (_waiting.TryPeek(out var worker, out var due) && due - now < Millisecond)
                {
                    _waiting.Dequeue();
                    ready.Add(worker);
                }
            }

            foreach (var worker in ready)
            {
                worker.Wake();
            }

            ready.Clear();
        }
    }
}

/// <summary>An incremental HTTP/1.1 response parser: status line, headers, Content-Length, chunked, or to close.</summary>
internal sealed class ResponseParser
{
    private readonly byte[] _line = new byte[16 * 1024];
    private int _lineLength;
    private State _state;
    private long _remaining;
    private long _contentLength;
    private bool _chunked;
    private bool _keepAlive;
    private bool _http10;

    private enum State { StatusLine, Headers, Body, ChunkSize, ChunkData, ChunkEnd, Trailers, UntilClose, Done }

    public int Status { get; private set; }

    /// <summary>Whether any byte of the response has arrived.</summary>
    public bool Started { get; private set; }

    public bool Done => _state == State.Done;

    /// <summary>The response has neither length nor chunks: it ends when the server closes.</summary>
    public bool ReadsToClose => _state == State.UntilClose;

    /// <summary>The connection cannot carry another request.</summary>
    public bool Close { get; private set; }

    public void Reset()
    {
        _state = State.StatusLine;
        _lineLength = 0;
        Status = 0;
        Started = false;
        Close = false;
    }

    /// <summary>Consumes bytes until the response is complete; returns how many it consumed.</summary>
    public int Feed(ReadOnlySpan<byte> data)
    {
        Started |= data.Length > 0;
        var position = 0;
        while (position < data.Length && _state != State.Done)
        {
            switch (_state)
            {
                case State.Body or State.ChunkData:
                    var take = (int)Math.Min(_remaining, data.Length - position);
                    position += take;
                    _remaining -= take;
                    if (_remaining == 0)
                    {
                        _state = _state == State.Body ? State.Done : State.ChunkEnd;
                    }

                    break;
                case State.UntilClose:
                    position = data.Length;
                    break;
                default: // the states that read a line
                    var rest = data[position..];
                    var newline = rest.IndexOf((byte)'\n');
                    var part = newline < 0 ? rest : rest[..newline];
                    if (_lineLength + part.Length > _line.Length)
                    {
                        throw new InvalidDataException("response line longer than 16 KiB");
                    }

                    part.CopyTo(_line.AsSpan(_lineLength));
                    _lineLength += part.Length;
                    if (newline < 0)
                    {
                        position = data.Length;
                        break;
                    }

                    position += newline + 1;
                    var line = _line.AsSpan(0, _lineLength);
                    _lineLength = 0;
                    OnLine(line.EndsWith((byte)'\r') ? line[..^1] : line);
                    break;
            }
        }

        return position;
    }

    private void OnLine(Span<byte> line)
    {
        switch (_state)
        {
            case State.StatusLine:
                // HTTP/1.x NNN reason
                if (line.Length < 12 || !line.StartsWith("HTTP/1."u8) || !Utf8Parser.TryParse(line.Slice(9, 3), out int status, out _))
                {
                    throw new InvalidDataException($"bad status line: {Encoding.ASCII.GetString(line)}");
                }

                Status = status;
                _http10 = line[7] == (byte)'0';
                _contentLength = -1;
                _chunked = false;
                _keepAlive = false;
                _state = State.Headers;
                break;
            case State.Headers when line.IsEmpty:
                Close |= _http10 && !_keepAlive;
                _state = Status switch
                {
                    < 200 => State.StatusLine, // 100 Continue and friends: the real response follows
                    204 or 304 => State.Done,
                    _ when _chunked => State.ChunkSize,
                    _ when _contentLength == 0 => State.Done,
                    _ when _contentLength > 0 => State.Body,
                    _ => State.UntilClose,
                };
                _remaining = _contentLength;
                Close |= _state == State.UntilClose;
                break;
            case State.Headers:
                var colon = line.IndexOf((byte)':');
                if (colon <= 0)
                {
                    throw new InvalidDataException($"bad header: {Encoding.ASCII.GetString(line)}");
                }

                var name = line[..colon];
                var value = line[(colon + 1)..];
                value = value[Ascii.Trim(value)];
                if (Ascii.EqualsIgnoreCase(name, "content-length"u8))
                {
                    if (!Utf8Parser.TryParse(value, out _contentLength, out var used) || used != value.Length || _contentLength < 0)
                    {
                        throw new InvalidDataException($"bad Content-Length: {Encoding.ASCII.GetString(value)}");
                    }
                }
                else if (Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8))
                {
                    Ascii.ToLowerInPlace(value, out _);
                    _chunked = value.EndsWith("chunked"u8);
                }
                else if (Ascii.EqualsIgnoreCase(name, "connection"u8))
                {
                    Ascii.ToLowerInPlace(value, out _);
                    Close |= value.IndexOf("close"u8) >= 0;
                    _keepAlive |= value.IndexOf("keep-alive"u8) >= 0;
                }

                break;
            case State.ChunkSize:
                // hex size, optionally followed by ;extensions
                var end = line.IndexOf((byte)';');
                var size = end < 0 ? line : line[..end];
                size = size[Ascii.Trim(size)];
                if (!Utf8Parser.TryParse(size, out long length, out var digits, 'X') || digits != size.Length || length < 0)
                {
                    throw new InvalidDataException($"bad chunk size: {Encoding.ASCII.GetString(line)}");
                }

                _remaining = length;
                _state = length == 0 ? State.Trailers : State.ChunkData;
                break;
            case State.ChunkEnd:
                if (!line.IsEmpty)
                {
                    throw new InvalidDataException("chunk data longer than its size");
                }

                _state = State.ChunkSize;
                break;
            case State.Trailers:
                if (line.IsEmpty)
                {
                    _state = State.Done;
                }

                break;
            default:
                throw new InvalidOperationException($"no line expected in state {_state}");
        }
    }
}
