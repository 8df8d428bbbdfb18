using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using Distributed.Topology;

namespace Distributed.Chaos.Tests;

/// <summary>One request of the load, as the client saw it.</summary>
/// <param name="Key">The session's name (its header key, or the cookie session's label).</param>
/// <param name="Gateway">The gateway that answered (after a failover, the other one).</param>
/// <param name="Backend">The backend that answered (<c>X-Backend-Id</c>).</param>
/// <param name="Status">HTTP status; 0 when no answer came.</param>
/// <param name="Latency">End to end, as the client measured it.</param>
/// <param name="At">When the request was sent, since the load started.</param>
/// <param name="Error">Why no answer came.</param>
/// <param name="RouteMs">How long the gateway's routing decision took (its <c>Server-Timing</c> header), when it said.</param>
/// <param name="Route">How the gateway decided (pinned, new, repinned, provisional...).</param>
public sealed record Sample(string Key, int Gateway, string? Backend, int Status, TimeSpan Latency, TimeSpan At, string? Error, double? RouteMs = null, string? Route = null)
{
    public bool Succeeded => Status == 200 && Backend is not null;
}

/// <summary>
/// A client session of the load: a header key (<c>X-Session-Id</c>, pool <c>web</c>) or a browser-like cookie jar for
/// the cookie pool (paths under <c>/c/</c>) that keeps whatever session cookie the gateways last set.
/// </summary>
public sealed class LoadSession(string name, bool cookie = false)
{
    public string Name { get; } = name;

    public bool IsCookie { get; } = cookie;

    /// <summary>The session cookie the client holds (cookie sessions), <c>null</c> before the first answer.</summary>
    public string? Cookie { get; set; }

    public override string ToString() => Name;
}

/// <summary>
/// A steady request rate over a fixed set of session keys, alternating each key between gateways on every pass, like a
/// client behind DNS round robin. A gateway that refuses the connection (it is down) is failed over to the other one,
/// and a GET whose connection breaks under it is sent once more to the other one, as browsers and HTTP clients with a
/// retry policy do; anything that still fails, and every error response, is recorded as a failure.
/// <para>
/// Given a <see cref="GatewayRotation"/>, the client never retries nor fails over: each request goes once to a gateway
/// in rotation (ready), as through a Kubernetes Service or a health-checked DNS name, and any error is a failure. Like
/// every HTTP client, it opens a new connection when the server closed one after a response.
/// </para>
/// </summary>
public sealed class SteadyLoad : IAsyncDisposable
{
    private const int MaxOutstanding = 128;
    private const string CookieName = "dist_session";
    private readonly LocalTopology _topology;
    private LoadSession[] _sessions;
    private readonly TimeSpan _interval;
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseCookies = false, ConnectTimeout = TimeSpan.FromSeconds(2) }) { Timeout = TimeSpan.FromSeconds(30) };
    private readonly ConcurrentQueue<Sample> _samples = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _outstanding = new(MaxOutstanding);
    private readonly GatewayRotation? _rotation;
    private int _failovers;
    private int _retries;
    private Task? _loop;

    public SteadyLoad(LocalTopology topology, string[] keys, int requestsPerSecond, GatewayRotation? rotation = null)
        : this(topology, keys.Select(k => new LoadSession(k)), requestsPerSecond, rotation)
    {
    }

    public SteadyLoad(LocalTopology topology, IEnumerable<LoadSession> sessions, int requestsPerSecond, GatewayRotation? rotation = null)
    {
        _topology = topology;
        _rotation = rotation;
        _sessions = [.. sessions];
        _interval = TimeSpan.FromSeconds(1.0 / requestsPerSecond);
    }

    /// <summary>Sessions join the rotation (new users arriving while the load runs).</summary>
    public void Add(IEnumerable<LoadSession> sessions) => Volatile.Write(ref _sessions, [.. Volatile.Read(ref _sessions), .. sessions]);

    public IReadOnlyCollection<Sample> Samples => _samples;

    public int Failovers => Volatile.Read(ref _failovers);

    /// <summary>Requests whose connection broke under them and that the client sent again to another gateway.</summary>
    public int Retries => Volatile.Read(ref _retries);

    /// <summary>Time since the load object was created; samples carry it.</summary>
    public TimeSpan Now => _clock.Elapsed;

    public void Start() => _loop = Task.Run(RunAsync);

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            await _loop;
        }

        // Let every request already sent finish.
        for (var i = 0; i < MaxOutstanding; i++)
        {
            await _outstanding.WaitAsync();
        }
    }

    /// <summary>Sends one request for header key <paramref name="key"/> through gateway <paramref name="gateway"/> and records it.</summary>
    public Task<Sample> SendAsync(string key, int gateway, bool failover = true) => SendAsync(new LoadSession(key), gateway, failover);

    /// <summary>Sends one request of <paramref name="session"/> through gateway <paramref name="gateway"/> and records it.</summary>
    public async Task<Sample> SendAsync(LoadSession session, int gateway, bool failover = true)
    {
        var key = session.Name;
        var started = _clock.Elapsed;
        var target = gateway;
        for (var attempt = 0; ; attempt++)
        {
            var node = _topology.Gateways[target];
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(node.Address, session.IsCookie ? "/c/chaos" : "/chaos"));
            if (!session.IsCookie)
            {
                request.Headers.Add("X-Session-Id", key);
            }
            else if (session.Cookie is { } cookie)
            {
                request.Headers.Add("Cookie", $"{CookieName}={cookie}");
            }

            try
            {
                using var response = await _http.SendAsync(request);
                var backend = response.Headers.TryGetValues("X-Backend-Id", out var values) ? values.Single() : null;
                if (session.IsCookie && response.Headers.TryGetValues("Set-Cookie", out var cookies)
                    && cookies.FirstOrDefault(c => c.StartsWith(CookieName + "=", StringComparison.Ordinal)) is { } set)
                {
                    session.Cookie = set[(CookieName.Length + 1)..].Split(';')[0];
                }

                var (routeMs, route) = ServerTiming(response);
                return Record(new Sample(key, target, backend, (int)response.StatusCode, _clock.Elapsed - started, started, null, routeMs, route));
            }
            catch (HttpRequestException ex) when (failover && attempt == 0 && ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
            {
                // Nothing was sent: the client moves on to the next address, as with DNS round robin.
                Interlocked.Increment(ref _failovers);
                target = (target + 1) % _topology.Gateways.Count;
            }
            catch (HttpRequestException) when (failover && attempt == 0)
            {
                // The connection broke under the request (its gateway died holding it): like a browser with an
                // idempotent GET on a reused connection, the client retries once, on the next address.
                Interlocked.Increment(ref _retries);
                target = (target + 1) % _topology.Gateways.Count;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                return Record(new Sample(key, target, null, 0, _clock.Elapsed - started, started, $"{ex.GetType().Name}: {ex.InnerException?.Message ?? ex.Message}"));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync();
        }

        _http.Dispose();
        _stop.Dispose();
        _outstanding.Dispose();
    }

    // "route;dur=1.3;desc=\"pinned\"": the gateway's own account of its routing decision.
    private static (double? Ms, string? Route) ServerTiming(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Server-Timing", out var values))
        {
            return (null, null);
        }

        var parts = values.First().Split(';');
        var dur = parts.FirstOrDefault(p => p.StartsWith("dur=", StringComparison.Ordinal));
        var desc = parts.FirstOrDefault(p => p.StartsWith("desc=", StringComparison.Ordinal));
        return (dur is null ? null : double.Parse(dur[4..], System.Globalization.CultureInfo.InvariantCulture), desc?[5..].Trim('"'));
    }

    private Sample Record(Sample sample)
    {
        _samples.Enqueue(sample);
        return sample;
    }

    private async Task RunAsync()
    {
        var start = _clock.Elapsed;
        for (long i = 0; !_stop.IsCancellationRequested; i++)
        {
            var due = start + (_interval * i);
            var wait = due - _clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

            var sessions = Volatile.Read(ref _sessions);
            var session = sessions[i % sessions.Length];
            var slot = i + (i / sessions.Length);
            var gateway = _rotation is null ? (int)(slot % _topology.Gateways.Count) : _rotation.Pick(slot);
            await _outstanding.WaitAsync();
            _ = Task.Run(async () =>
            {
                try
                {
                    if (gateway is { } target)
                    {
                        await SendAsync(session, target, failover: _rotation is null);
                    }
                    else
                    {
                        Record(new Sample(session.Name, -1, null, 0, TimeSpan.Zero, _clock.Elapsed, "no gateway in rotation"));
                    }
                }
                finally
                {
                    _outstanding.Release();
                }
            });
        }
    }
}
