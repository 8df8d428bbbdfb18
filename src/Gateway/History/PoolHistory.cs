using Distributed.Gateway.Pools;

namespace Distributed.Gateway.History;

/// <summary>One backend's figures in one point of the history; <c>NaN</c> or -1 where a figure is unknown.</summary>
internal readonly record struct BackendPoint(float RequestRate, int InFlight, float LatencyP99Ms, float ErrorRate, int Sessions);

/// <summary>One point of a pool's history: the backends then in its snapshot, ordered by id, and their figures.</summary>
internal sealed record HistoryFrame(long At, string[] Ids, BackendPoint[] Points);

/// <summary>A pool's history as the admin API serves it: a time axis and, per backend, one column per figure.</summary>
/// <param name="Pool">Pool name.</param>
/// <param name="IntervalSeconds">Time between points.</param>
/// <param name="WindowSeconds">The window of the rates: p99 latency and error rate (this gateway's), like request rates.</param>
/// <param name="SessionsIntervalSeconds">Time between session counts; the points between hold none.</param>
/// <param name="Times">Each point's time, Unix milliseconds, ascending.</param>
/// <param name="Backends">Every backend seen in these points, ordered by id; <c>null</c> where a figure is unknown.</param>
public sealed record PoolHistoryDescription(
    string Pool,
    double IntervalSeconds,
    double WindowSeconds,
    double SessionsIntervalSeconds,
    IReadOnlyList<long> Times,
    IReadOnlyList<BackendHistoryDescription> Backends);

/// <summary>One backend's columns in <see cref="PoolHistoryDescription"/>, aligned with its <c>Times</c>.</summary>
/// <param name="Id">Backend id.</param>
/// <param name="RequestRate">Requests per second across every gateway (the cluster's figure, averaged over the passive-health window).</param>
/// <param name="InFlight">Requests in flight across every gateway.</param>
/// <param name="LatencyP99Ms">This gateway's p99 time to the backend's response headers over the window, in milliseconds.</param>
/// <param name="ErrorRate">Share (0–1) of this gateway's requests to the backend that failed (no answer or 5xx) over the window.</param>
/// <param name="Sessions">Sessions pinned to the backend, where counted.</param>
public sealed record BackendHistoryDescription(
    string Id,
    IReadOnlyList<double?> RequestRate,
    IReadOnlyList<int?> InFlight,
    IReadOnlyList<double?> LatencyP99Ms,
    IReadOnlyList<double?> ErrorRate,
    IReadOnlyList<int?> Sessions);

/// <summary>
/// The last <c>capacity</c> points of one pool, one a second, in a ring: memory is bounded by the capacity times the
/// pool's backends. Written by <see cref="HistorySampler"/>, read by the admin API.
/// </summary>
internal sealed class PoolHistory
{
    /// <summary>How far back p99 latency and error rate look: the passive-health window's default, so rates agree.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private readonly HistoryFrame?[] _ring;
    private readonly Dictionary<string, Queue<Cumulative>> _windows = new(StringComparer.Ordinal);
    private int _next;
    private int _count;
    private IReadOnlyDictionary<string, int>? _pendingSessions;

    public PoolHistory(string pool, int capacity, TimeSpan sessionsInterval)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Pool = pool;
        SessionsInterval = sessionsInterval;
        _ring = new HistoryFrame?[capacity];
    }

    public string Pool { get; }

    public TimeSpan SessionsInterval { get; }

    /// <summary>Points held now (at most the capacity).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>Session counts per backend, taken into the next point (and that one only).</summary>
    public void RecordSessions(IReadOnlyDictionary<string, int> sessions)
    {
        lock (_lock)
        {
            _pendingSessions = sessions;
        }
    }

    /// <summary>
    /// Adds a point at <paramref name="now"/> from <paramref name="view"/> (cluster-wide figures, unless
    /// <paramref name="clusterCurrent"/> is false: then they are unknown, not frozen), this gateway's counters, and the
    /// running latency histograms.
    /// </summary>
    public void Record(DateTimeOffset now, PoolView view, bool clusterCurrent, IReadOnlyDictionary<HttpEndpoint, LatencyHistogram> latencies)
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(latencies);
        lock (_lock)
        {
            var previous = _count == 0 ? null : _ring[(_next - 1 + _ring.Length) % _ring.Length];
            var backends = view.Backends;
            var ids = new string[backends.Length];
            var points = new BackendPoint[backends.Length];
            for (var i = 0; i < backends.Length; i++)
            {
                var backend = backends[i];
                ids[i] = backend.Id;
                var endpoint = HttpEndpoint.Of(backend.Backend.Address);
                var latency = endpoint is { } e ? latencies.GetValueOrDefault(e) : null;
                var (errorRate, p99) = Windowed(backend.Id, now, new Cumulative(now, backend.Counter.SucceededTotal, backend.Counter.FailedTotal, latency));
                points[i] = new BackendPoint(
                    clusterCurrent ? (float)backend.Backend.RequestRate : float.NaN,
                    clusterCurrent ? backend.Backend.ClusterInFlight : -1,
                    p99 is { } seconds ? (float)(seconds * 1000) : float.NaN,
                    errorRate is { } rate ? (float)rate : float.NaN,
                    _pendingSessions?.GetValueOrDefault(backend.Id, -1) ?? -1);
            }

            // Backends gone from the snapshot need no window; their points stay until they age out.
            foreach (var gone in _windows.Keys.Where(id => Array.IndexOf(ids, id) < 0).ToList())
            {
                _windows.Remove(gone);
            }

            _pendingSessions = null;
            // Consecutive points share the id list while the registry stays the same.
            if (previous is not null && previous.Ids.AsSpan().SequenceEqual(ids))
            {
                ids = previous.Ids;
            }

            _ring[_next] = new HistoryFrame(now.ToUnixTimeMilliseconds(), ids, points);
            _next = (_next + 1) % _ring.Length;
            _count = Math.Min(_count + 1, _ring.Length);
        }
    }

    /// <summary>The points after <paramref name="since"/> (Unix milliseconds; all when <c>null</c>), oldest first.</summary>
    public PoolHistoryDescription Describe(long? since)
    {
        List<HistoryFrame> frames;
        lock (_lock)
        {
            frames = new List<HistoryFrame>(_count);
            for (var i = 0; i < _count; i++)
            {
                var frame = _ring[(_next - _count + i + _ring.Length) % _ring.Length]!;
                if (since is null || frame.At > since)
                {
                    frames.Add(frame);
                }
            }
        }

        var ids = frames.SelectMany(f => f.Ids).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var backends = ids.Select(id =>
        {
            var column = frames.Select(f => Array.IndexOf(f.Ids, id) is var index and >= 0 ? f.Points[index] : (BackendPoint?)null).ToList();
            return new BackendHistoryDescription(
                id,
                [.. column.Select(p => Known(p?.RequestRate))],
                [.. column.Select(p => Known(p?.InFlight))],
                [.. column.Select(p => Known(p?.LatencyP99Ms))],
                [.. column.Select(p => Known(p?.ErrorRate, digits: 4))],
                [.. column.Select(p => Known(p?.Sessions))]);
        }).ToList();
        return new PoolHistoryDescription(Pool, HistorySampler.Interval.TotalSeconds, Window.TotalSeconds, SessionsInterval.TotalSeconds, [.. frames.Select(f => f.At)], backends);
    }

    private static double? Known(float? value, int digits = 2) => value is { } v && float.IsFinite(v) ? Math.Round(v, digits) : null;

    private static int? Known(int? value) => value is >= 0 ? value : null;

    // Error rate and p99 over the last Window from the running totals: the newest sample at least Window old is the
    // baseline (or the oldest there is, while the history is younger than the window).
    private (double? ErrorRate, double? P99) Windowed(string id, DateTimeOffset now, Cumulative current)
    {
        if (!_windows.TryGetValue(id, out var window))
        {
            _windows[id] = window = new Queue<Cumulative>();
        }

        window.Enqueue(current);
        while (window.Count > 1 && window.ElementAt(1).At <= now - Window)
        {
            window.Dequeue();
        }

        var baseline = window.Peek();
        if (ReferenceEquals(baseline, current))
        {
            return (null, null);
        }

        var succeeded = current.Succeeded - baseline.Succeeded;
        var failed = current.Failed - baseline.Failed;
        double? errorRate = succeeded >= 0 && failed >= 0 && succeeded + failed > 0 ? (double)failed / (succeeded + failed) : null;
        var latency = current.Latency is { } latest && baseline.Latency is { } earlier ? latest.Since(earlier) : current.Latency;
        return (errorRate, latency?.Quantile(0.99));
    }

    /// <summary>A backend's running totals at one sample.</summary>
    private sealed record Cumulative(DateTimeOffset At, long Succeeded, long Failed, LatencyHistogram? Latency);
}
