using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using Distributed.Topology;

namespace Distributed.Chaos.Tests;

/// <summary>One request of the load, as the client saw it.</summary>
public sealed record Sample(string Key, int Gateway, string? Backend, int Status, TimeSpan Latency, TimeSpan At, string? Error)
{
    public bool Succeeded => Status == 200 && Backend is not null;
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
    private readonly LocalTopology _topology;
    private readonly string[] _keys;
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
    {
        _topology = topology;
        _rotation = rotation;
        _keys = keys;
        _interval = TimeSpan.FromSeconds(1.0 / requestsPerSecond);
    }

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

    /// <summary>Sends one request for <paramref name="key"/> through gateway <paramref name="gateway"/> and records it.</summary>
    public async Task<Sample> SendAsync(string key, int gateway, bool failover = true)
    {
        var started = _clock.Elapsed;
        var target = gateway;
        for (var attempt = 0; ; attempt++)
        {
            var node = _topology.Gateways[target];
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(node.Address, "/chaos"));
            request.Headers.Add("X-Session-Id", key);
            try
            {
                using var response = await _http.SendAsync(request);
                var backend = response.Headers.TryGetValues("X-Backend-Id", out var values) ? values.Single() : null;
                return Record(new Sample(key, target, backend, (int)response.StatusCode, _clock.Elapsed - started, started, null));
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

            var key = _keys[i % _keys.Length];
            var slot = i + (i / _keys.Length);
            var gateway = _rotation is null ? (int)(slot % _topology.Gateways.Count) : _rotation.Pick(slot);
            await _outstanding.WaitAsync();
            _ = Task.Run(async () =>
            {
                try
                {
                    if (gateway is { } target)
                    {
                        await SendAsync(key, target, failover: _rotation is null);
                    }
                    else
                    {
                        Record(new Sample(key, -1, null, 0, TimeSpan.Zero, _clock.Elapsed, "no gateway in rotation"));
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
