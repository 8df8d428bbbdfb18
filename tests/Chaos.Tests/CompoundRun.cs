using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Distributed.Topology;

namespace Distributed.Chaos.Tests;

/// <summary>
/// A chaos run of compound failure sequences: a 3-silo, 2-gateway, 3-backend topology with a header-keyed pool
/// (<c>web</c>) and a cookie-keyed one (<c>c</c>, under <c>/c/</c>), steady sticky load through both gateways from a
/// client that retries once on the other gateway, and, for each phase, what the client saw: failures, sessions
/// answered by another backend than the one that served them last (and whether that was allowed), the gateways' own
/// routing-decision times (<c>Server-Timing</c>), guesses and end-to-end latency.
/// </summary>
public sealed class CompoundRun : IAsyncDisposable
{
    /// <summary>The gateways' wait budget for the cluster (their default).</summary>
    public static readonly TimeSpan Budget = TimeSpan.FromMilliseconds(250);

    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(90);
    private readonly ITestOutputHelper _output;
    private readonly List<Phase> _phases = [];

    // Windows in which a gateway was stopped on purpose (SIGSTOP): a decision it was making then lasted the pause.
    private readonly List<(int Gateway, TimeSpan From, TimeSpan To)> _pauses = [];
    private readonly HttpClient _admin = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly string _run = Guid.NewGuid().ToString("N")[..6];

    private CompoundRun(ITestOutputHelper output, LocalTopology topology, List<LoadSession> sessions, int requestsPerSecond)
    {
        _output = output;
        Topology = topology;
        Sessions = sessions;
        Load = new SteadyLoad(topology, sessions, requestsPerSecond);
        _admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", topology.AdminApiKey);
    }

    public LocalTopology Topology { get; }

    public SteadyLoad Load { get; }

    /// <summary>Every session of the run, including those added by <see cref="NewSessionsAsync"/>.</summary>
    public List<LoadSession> Sessions { get; }

    public IReadOnlyList<Phase> Phases => _phases;

    /// <summary>Starts the topology and the load's sessions (not the load itself: see <see cref="WarmUpAsync"/>).</summary>
    public static async Task<CompoundRun> StartAsync(ITestOutputHelper output, bool redisAppendOnly, int headerSessions = 3000, int cookieSessions = 300, int requestsPerSecond = 120)
    {
        var topology = await LocalTopology.StartAsync(new TopologyOptions
        {
            Silos = 3,
            Gateways = 2,
            Backends = 3,
            RedisAppendOnly = redisAppendOnly,
            SiloSettings = TopologyOptions.FastFailureDetection(),
            GatewaySettings = new Dictionary<string, string>
            {
                ["Balancer:ServerTiming"] = "true",
                ["Orleans:Gateway:GatewayListRefreshPeriod"] = "00:00:02",
            },
            Balancer = backends =>
            {
                var settings = TopologyOptions.AddRoutedPool([], "c", "Cookie:dist_session", backends, "/c/{**catch-all}", order: 0);
                TopologyOptions.AddRoutedPool(settings, "web", "Header:X-Session-Id", backends, "/{**catch-all}", order: 1);
                foreach (var pool in (string[])["web", "c"])
                {
                    settings[$"Balancer:Pools:{pool}:HealthCheck:Interval"] = "00:00:00.500";
                    settings[$"Balancer:Pools:{pool}:HealthCheck:Timeout"] = "00:00:00.400";
                    settings[$"Balancer:Pools:{pool}:HealthCheck:Rise"] = "2";
                    settings[$"Balancer:Pools:{pool}:HealthCheck:Fall"] = "2";
                }

                return settings;
            },
        });
        var run = Guid.NewGuid().ToString("N")[..6];
        List<LoadSession> sessions =
        [
            .. Enumerable.Range(0, headerSessions).Select(i => new LoadSession($"h-{run}-{i}")),
            .. Enumerable.Range(0, cookieSessions).Select(i => new LoadSession($"c-{run}-{i}", cookie: true)),
        ];
        return new CompoundRun(output, topology, sessions, requestsPerSecond);
    }

    /// <summary>Every session pinned and seen through both gateways, which must agree; then the steady load starts.</summary>
    public async Task WarmUpAsync()
    {
        await Parallel.ForEachAsync(Sessions, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (session, _) =>
        {
            var first = await Load.SendAsync(session, 0, failover: false);
            var second = await Load.SendAsync(session, 1, failover: false);
            Assert.True(first.Succeeded && second.Succeeded, $"warm-up failed for {session}: {first} / {second}");
            Assert.True(first.Backend == second.Backend, $"warm-up answered {session} from two backends: {first} / {second}");
        });
        Load.Start();
    }

    /// <summary>Runs one failure sequence and records its window.</summary>
    public async Task<Phase> PhaseAsync(string name, Func<Phase, Task> sequence)
    {
        var phase = new Phase(name, Load.Now, Load.Failovers + Load.Retries);
        _phases.Add(phase);
        await sequence(phase);
        phase.End = Load.Now;
        phase.ClientRetries = Load.Failovers + Load.Retries - phase.ClientRetries;
        return phase;
    }

    /// <summary>Stops gateway <paramref name="gateway"/> (0-based) with SIGSTOP, as a starved or frozen container is.</summary>
    public async Task PauseGatewayAsync(int gateway)
    {
        _pauses.Add((gateway, Load.Now, TimeSpan.MaxValue)); // from before the signal: a request sent just before counts
        await Topology.PauseAsync($"gateway{gateway + 1}");
    }

    /// <summary>Lets gateway <paramref name="gateway"/> run again (SIGCONT).</summary>
    public async Task ResumeGatewayAsync(int gateway)
    {
        await Topology.ResumeAsync($"gateway{gateway + 1}");
        var pause = _pauses.FindLastIndex(p => p.Gateway == gateway);
        _pauses[pause] = _pauses[pause] with { To = Load.Now };
    }

    /// <summary>
    /// New users arriving: <paramref name="header"/> header sessions, each sent through both gateways at once (two
    /// gateways meeting one new session concurrently), and <paramref name="cookie"/> cookie sessions (first visit through
    /// one gateway, the next with its cookie through the other); then they join the load.
    /// </summary>
    public async Task<List<LoadSession>> NewSessionsAsync(string label, int header, int cookie)
    {
        List<LoadSession> created =
        [
            .. Enumerable.Range(0, header).Select(i => new LoadSession($"h-{_run}-{label}-{i}")),
            .. Enumerable.Range(0, cookie).Select(i => new LoadSession($"c-{_run}-{label}-{i}", cookie: true)),
        ];
        await Parallel.ForEachAsync(created, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (session, _) =>
        {
            if (session.IsCookie)
            {
                await Load.SendAsync(session, 0);
                await Load.SendAsync(session, 1);
            }
            else
            {
                await Task.WhenAll(Load.SendAsync(session, 0), Load.SendAsync(session, 1));
            }
        });
        Sessions.AddRange(created);
        Load.Add(created);
        return created;
    }

    /// <summary>Keeps the load running between faults (pacing; nothing is asserted on timing).</summary>
    public static Task HoldAsync(TimeSpan duration) => duration > TimeSpan.Zero ? Task.Delay(duration) : Task.CompletedTask;

    public async Task KillEverySiloAsync()
    {
        foreach (var silo in Topology.Silos)
        {
            Topology.Kill(silo.Name);
        }

        await WaitAsync(async () => await Topology.GatewayReadinessAsync(0) == "Degraded" && await Topology.GatewayReadinessAsync(1) == "Degraded", "both gateways to report Degraded");
    }

    public async Task RestartEverySiloAsync()
    {
        await Task.WhenAll(Topology.Silos.Select(s => Topology.RestartAsync(s.Name)));
        await WaitAsync(async () => await Topology.GatewayReadinessAsync(0) == "Healthy" && await Topology.GatewayReadinessAsync(1) == "Healthy", "both gateways to report Healthy");
    }

    /// <summary>Waits until the cluster's verdict on a backend, as gateway <paramref name="gateway"/>'s admin API shows it, is <paramref name="health"/>.</summary>
    public Task WaitForHealthAsync(string pool, string backend, string health, int gateway = 0) => WaitAsync(
        async () =>
        {
            var backends = await _admin.GetFromJsonAsync<List<BackendHealth>>(new Uri(Topology.Gateways[gateway].AdminAddress, $"/admin/pools/{pool}/backends"));
            return backends!.Single(b => b.Id == backend).Health == health;
        },
        $"{backend} in {pool} to be {health}");

    /// <summary>Tells an echo backend to fail its health checks (or not).</summary>
    public async Task FailHealthAsync(string backend, bool fail)
    {
        using var response = await _admin.PostAsync(new Uri(Topology.Backends.Single(b => b.Id == backend).Address, $"/_echo/fail?health={(fail ? "true" : "false")}"), null);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>
    /// Sessions whose move against the promise was counted in a phase and that have not come back since: the backend
    /// that served them before the move (their pin, which the cold gateway guessed wrong). Set by <see cref="Analyse"/>.
    /// </summary>
    private Dictionary<string, string> _unsettledMoves = new(StringComparer.Ordinal);

    /// <summary>Sessions that answered after the run from the backend they had before a move counted in a phase.</summary>
    public int ReturnedAfterTheRun { get; private set; }

    /// <summary>
    /// After the run (and <see cref="Analyse"/>): both gateways restarted (empty caches), every session asked through
    /// each. Returns the sessions answered by another backend than the one that served them last. A session whose move
    /// was already counted against a phase (a cold gateway's wrong guess, within that phase's allowance) may instead
    /// answer from where it was before that move: the grain's pin, to which reconciliation takes it back; that return is
    /// counted in <see cref="ReturnedAfterTheRun"/>, not as a second move.
    /// </summary>
    public async Task<List<string>> VerifyThroughRestartedGatewaysAsync()
    {
        var last = LastBackends(Load.Samples);
        var returned = new HashSet<string>(StringComparer.Ordinal);
        await Topology.RestartAsync("gateway1");
        await Topology.RestartAsync("gateway2");
        var mismatches = new List<string>();
        await Parallel.ForEachAsync(Sessions, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (session, _) =>
        {
            foreach (var gateway in new[] { 0, 1 })
            {
                var sample = await Load.SendAsync(session, gateway, failover: false);
                if (_unsettledMoves.TryGetValue(session.Name, out var home) && sample.Backend == home)
                {
                    lock (returned)
                    {
                        returned.Add(session.Name);
                    }
                }
                else if (!last.TryGetValue(session.Name, out var expected) || sample.Backend != expected)
                {
                    lock (mismatches)
                    {
                        mismatches.Add($"{session}: last served by {expected ?? "nobody"}, now {sample.Backend ?? sample.Error ?? sample.Status.ToString(CultureInfo.InvariantCulture)} via gateway{gateway + 1} (decided by {sample.Route ?? "?"} in {sample.RouteMs?.ToString("F0", CultureInfo.InvariantCulture) ?? "?"} ms)");
                    }
                }
            }
        });
        ReturnedAfterTheRun = returned.Count;
        return mismatches;
    }

    // Whether the gateway that served the sample was stopped on purpose while the request was under way: its decision
    // time is the pause, not a wait for the cluster.
    private bool SpansAPause(Sample sample) =>
        _pauses.Any(p => p.Gateway == sample.Gateway && sample.At < p.To && sample.At + sample.Latency > p.From);

    /// <summary>Analyses every phase against the whole history and writes the report.</summary>
    public void Analyse()
    {
        var samples = Load.Samples.OrderBy(s => s.At).ToList();
        var cookieSessions = Sessions.Where(s => s.IsCookie).Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var last = new Dictionary<string, string>(StringComparer.Ordinal);
        var movedAway = new HashSet<string>(StringComparer.Ordinal);
        var movedFrom = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var sample in samples)
        {
            var phase = _phases.FirstOrDefault(p => sample.At >= p.Start && sample.At < p.End);
            if (phase is not null)
            {
                phase.Record(sample, last, movedAway, movedFrom, cookieSessions, SpansAPause(sample));
            }

            if (sample.Succeeded)
            {
                last[sample.Key] = sample.Backend!;
            }
        }

        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"Topology: Redis, 3 silos, 2 gateways, 3 echo backends; {Sessions.Count(s => !s.IsCookie)} header and {Sessions.Count(s => s.IsCookie)} cookie sessions at the end; wait budget {Budget.TotalMilliseconds} ms.");
        foreach (var phase in _phases)
        {
            report.AppendLine(phase.Describe());
        }

        _output.WriteLine(report.ToString());
        _unsettledMoves = movedFrom;
    }

    /// <summary>Pools the gateways seeded again because the store had lost their registry (their metric, summed).</summary>
    public async Task<long> ReseedsAsync()
    {
        long total = 0;
        foreach (var gateway in Topology.Gateways)
        {
            var metrics = await _admin.GetStringAsync(new Uri(gateway.AdminAddress, "/metrics"));
            total += metrics.Split('\n')
                .Where(line => line.StartsWith("distributed_gateway_pool_reseeds_total{", StringComparison.Ordinal))
                .Sum(line => (long)double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
        }

        return total;
    }

    public async ValueTask DisposeAsync()
    {
        await Load.DisposeAsync();
        _admin.Dispose();
        await Topology.DisposeAsync();
    }

    /// <summary>The backend that last answered each session.</summary>
    public static Dictionary<string, string> LastBackends(IEnumerable<Sample> samples) => samples
        .Where(s => s.Succeeded)
        .GroupBy(s => s.Key)
        .ToDictionary(g => g.Key, g => g.MaxBy(s => s.At)!.Backend!, StringComparer.Ordinal);

    private static async Task WaitAsync(Func<Task<bool>> condition, string what) => await Wait.UntilAsync(condition, ReadyTimeout, what);

    private sealed record BackendHealth(string Id, string Health);
}

/// <summary>One failure sequence of a <see cref="CompoundRun"/> and what the client saw during it.</summary>
public sealed class Phase(string name, TimeSpan start, int clientRetriesBefore)
{
    private readonly List<Sample> _samples = [];
    private readonly HashSet<string> _disturbed = new(StringComparer.Ordinal);
    private readonly HashSet<string> _guessable = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _moves = new(StringComparer.Ordinal);
    private readonly List<(string Session, bool Correct, bool Cookie)> _coldGuesses = [];
    private readonly HashSet<string> _coldSeen = new(StringComparer.Ordinal);
    private int? _coldGateway;
    private TimeSpan _outageStart = TimeSpan.MaxValue;
    private TimeSpan _outageEnd = TimeSpan.MaxValue;

    public string Name { get; } = name;

    public TimeSpan Start { get; } = start;

    public TimeSpan End { get; set; } = TimeSpan.MaxValue;

    /// <summary>Requests the client sent again to the other gateway during the phase.</summary>
    public int ClientRetries { get; set; } = clientRetriesBefore;

    public IReadOnlyList<Sample> Samples => _samples;

    public IEnumerable<Sample> Failures => _samples.Where(s => !s.Succeeded);

    /// <summary>Sessions answered by another backend in a way the promise does not allow, with their history in the phase.</summary>
    public IReadOnlyDictionary<string, List<string>> Moves => _moves;

    /// <summary>Sessions moved away from a backend that died or stopped keeping sessions (each at most once).</summary>
    public int AllowedMoves { get; private set; }

    /// <summary>Sessions created while every silo was down, whose guessed backend the cluster later changed.</summary>
    public int GuessedNewSessionsMoved { get; private set; }

    /// <summary>Of the sessions that existed before the outage, the share the cold gateway routed to their backend while every silo was down.</summary>
    public (double Header, double Cookie, int HeaderCount, int CookieCount) ColdAccuracy =>
        (Share(_coldGuesses.Where(g => !g.Cookie)), Share(_coldGuesses.Where(g => g.Cookie)), _coldGuesses.Count(g => !g.Cookie), _coldGuesses.Count(g => g.Cookie));

    /// <summary>Sessions pinned to <paramref name="backend"/> may move away from it once during this phase.</summary>
    public void Disturbs(string backend) => _disturbed.Add(backend);

    /// <summary>These sessions were created during a total outage: their backend is a guess the cluster may change once.</summary>
    public void CreatedDuringOutage(IEnumerable<LoadSession> sessions) => _guessable.UnionWith(sessions.Select(s => s.Name));

    /// <summary>Every silo is down from now on; <paramref name="coldGateway"/> started with an empty cache.</summary>
    public void OutageStarts(TimeSpan at, int coldGateway) => (_outageStart, _coldGateway) = (at, coldGateway);

    public void OutageEnds(TimeSpan at) => _outageEnd = at;

    /// <summary>The longest routing decision a gateway reported in the phase (its <c>Server-Timing</c>), in ms.</summary>
    public double MaxRouteMs => _samples.Where(s => s.RouteMs is not null).Select(s => s.RouteMs!.Value).DefaultIfEmpty().Max();

    /// <summary>The 99th percentile of the routing decisions' durations.</summary>
    public double RouteMsP99 => Percentile([.. _samples.Where(s => s.RouteMs is not null).Select(s => s.RouteMs!.Value).Order()], 0.99);

    /// <summary>Sessions that came back to the backend they had before a move counted against the promise (that move is counted once, where it happened).</summary>
    public int ReturnedAfterAMove { get; private set; }

    /// <summary>Requests under way while their gateway was stopped on purpose: their decision time is not counted.</summary>
    public int DecisionsSpanningAPause { get; private set; }

    // movedFrom: for sessions moved against the promise, the backend that served them before; coming back there ends
    // the move (a cold gateway's wrong guess is followed by the session's return to its pin) rather than being another.
    internal void Record(Sample sample, Dictionary<string, string> last, HashSet<string> movedAway, Dictionary<string, string> movedFrom, HashSet<string> cookieSessions, bool spansAPause)
    {
        if (spansAPause && sample.RouteMs is not null)
        {
            DecisionsSpanningAPause++;
            sample = sample with { RouteMs = null };
        }

        _samples.Add(sample);
        if (!sample.Succeeded || !last.TryGetValue(sample.Key, out var before))
        {
            return;
        }

        if (_coldGateway == sample.Gateway && sample.At >= _outageStart && sample.At < _outageEnd && !_guessable.Contains(sample.Key) && _coldSeen.Add(sample.Key))
        {
            _coldGuesses.Add((sample.Key, sample.Backend == before, cookieSessions.Contains(sample.Key)));
        }

        if (sample.Backend == before)
        {
            return;
        }

        if (movedFrom.Remove(sample.Key, out var home) && sample.Backend == home)
        {
            ReturnedAfterAMove++;
            return;
        }

        if (_guessable.Contains(sample.Key) && movedAway.Add(sample.Key))
        {
            GuessedNewSessionsMoved++;
        }
        else if (_disturbed.Contains(before) && movedAway.Add(sample.Key))
        {
            AllowedMoves++;
        }
        else
        {
            if (!_moves.TryGetValue(sample.Key, out var history))
            {
                _moves[sample.Key] = history = [];
            }

            history.Add($"{sample.At.TotalSeconds:F1}s g{sample.Gateway + 1} {before} -> {sample.Backend} ({sample.Route ?? "?"})");
            movedFrom.TryAdd(sample.Key, before);
        }
    }

    /// <summary>Moved sessions that the promise does not allow, header-keyed and cookie-keyed.</summary>
    public (int Header, int Cookie) MovedSessions(ICollection<LoadSession> sessions) =>
        (_moves.Keys.Count(k => sessions.Any(s => s.Name == k && !s.IsCookie)), _moves.Keys.Count(k => sessions.Any(s => s.Name == k && s.IsCookie)));

    internal string Describe()
    {
        var text = new StringBuilder();
        var latencies = _samples.Where(s => s.Succeeded).Select(s => s.Latency.TotalMilliseconds).Order().ToList();
        text.AppendLine(CultureInfo.InvariantCulture, $"- {Name} ({(End - Start).TotalSeconds:F0} s from t={Start.TotalSeconds:F0}s): {_samples.Count} requests, {_samples.Count(s => !s.Succeeded)} failed, {ClientRetries} sent again by the client to the other gateway.");
        text.AppendLine(CultureInfo.InvariantCulture, $"  sessions moved against the promise: {_moves.Count}; moved once away from a failed backend: {AllowedMoves}; created during the outage with a guess the cluster later changed: {GuessedNewSessionsMoved} of {_guessable.Count}; back where they were before a move counted earlier: {ReturnedAfterAMove}.");
        text.AppendLine(CultureInfo.InvariantCulture, $"  routing decisions: p99 {RouteMsP99:F1} ms, max {MaxRouteMs:F1} ms (budget {CompoundRun.Budget.TotalMilliseconds} ms), {_samples.Count(s => s.Route == "provisional")} routed by a guess, {DecisionsSpanningAPause} not counted (their gateway was paused on purpose meanwhile); end-to-end p99 {Percentile(latencies, 0.99):F0} ms, p99.9 {Percentile(latencies, 0.999):F0} ms, max {latencies.DefaultIfEmpty().Max():F0} ms.");
        var slowest = _samples.Where(s => s.RouteMs > CompoundRun.Budget.TotalMilliseconds).OrderByDescending(s => s.RouteMs).Take(5).ToList();
        if (slowest.Count > 0)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  decisions past the budget: {string.Join(", ", slowest.Select(s => $"{s.RouteMs:F0} ms {s.Route} at t={s.At.TotalSeconds:F1}s via gateway{s.Gateway + 1}"))}.");
        }

        if (_coldGateway is { } cold)
        {
            var (header, cookie, headerCount, cookieCount) = ColdAccuracy;
            text.AppendLine(CultureInfo.InvariantCulture, $"  cold gateway{cold + 1} while every silo was down: routed {header:P2} of {headerCount} header sessions and {cookie:P2} of {cookieCount} cookie sessions to their backend.");
        }

        foreach (var (session, history) in _moves.Take(10))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  moved {session}: {string.Join(" | ", history)}");
        }

        return text.ToString();
    }

    private static double Share(IEnumerable<(string Session, bool Correct, bool Cookie)> guesses)
    {
        var list = guesses.ToList();
        return list.Count == 0 ? 1 : list.Count(g => g.Correct) / (double)list.Count;
    }

    private static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
}
