using Distributed.Gateway.LoadBalancing;
using Distributed.Grains.Abstractions;

namespace Distributed.Gateway.Configuration;

/// <summary>The <c>Balancer</c> configuration section: pools, routes and the gateway's own behaviour.</summary>
public sealed class BalancerOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Balancer";

    /// <summary>
    /// Identifies this gateway in load reports; must be unique per running process.
    /// <value>Default: machine name, process id and a random suffix.</value>
    /// </summary>
    public string? GatewayId { get; set; }

    /// <summary>How often the gateway reports its in-flight counts and refreshes its snapshot. <value>Default: 200 ms.</value></summary>
    public TimeSpan ReportInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// How long one report counts at the tracker; a gateway that stops reporting drops out after it.
    /// <value>Default: 5 × <see cref="ReportInterval"/>, at least 1 s.</value>
    /// </summary>
    public TimeSpan? ReportLease { get; set; }

    /// <summary>
    /// Longest a request waits for the cluster, in total (session grain calls, re-pins and a view refresh together).
    /// Past it the request is routed by the gateway's guess of the pin (where placement puts the session, which any
    /// gateway computes alike; the cookie's backend for cookie pools) and the grain's answer is taken in the background:
    /// a different answer moves the session once. <value>Default: 250 ms.</value>
    /// </summary>
    public TimeSpan ClusterWaitBudget { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Longest wait for one cluster call made in the background: a load report, a pin confirmation, a pin written
    /// behind a response, or the grain's answer to a request that went past <see cref="ClusterWaitBudget"/>. Bounds what
    /// Orleans would otherwise wait (its 30 s response timeout) for a silo that died. <value>Default: 2 s.</value>
    /// </summary>
    public TimeSpan ClusterCallTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Adds a <c>Server-Timing: route;dur=…;desc=…</c> header to every proxied response: how long the routing decision
    /// took (including any wait for the cluster) and how it was made. For diagnosis and tests; it tells clients how
    /// their session was routed. <value>Default: false.</value>
    /// </summary>
    public bool ServerTiming { get; set; }

    /// <summary>Longest session key accepted, in characters. <value>Default: 128.</value></summary>
    public int MaxSessionKeyLength { get; set; } = 128;

    /// <summary>Session cookie settings.</summary>
    public SessionCookieOptions Cookies { get; set; } = new();

    /// <summary>The per-client budget of new sessions.</summary>
    public NewSessionOptions NewSessions { get; set; } = new();

    /// <summary>Gateway-local pin cache.</summary>
    public PinCacheOptions PinCache { get; set; } = new();

    /// <summary>The in-memory history the management API serves and the status page draws.</summary>
    public HistoryOptions History { get; set; } = new();

    /// <summary>Pools by name.</summary>
    public Dictionary<string, PoolOptions> Pools { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Routes by name. <value>Default: with exactly one pool and no routes, every path goes to that pool.</value></summary>
    public Dictionary<string, RouteOptions> Routes { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The effective lease of a load report.</summary>
    public TimeSpan EffectiveReportLease => ReportLease ?? TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(1).Ticks, ReportInterval.Ticks * 5));
}

/// <summary>A pool of interchangeable backends with one session policy.</summary>
public sealed class PoolOptions
{
    /// <summary>
    /// Where the session key comes from: <c>Header:&lt;name&gt;</c>, <c>Cookie:&lt;name&gt;</c> (issued when absent),
    /// <c>Claim:&lt;type&gt;</c>, <c>ClientIp</c>, or empty for no stickiness. <value>Default: empty.</value>
    /// </summary>
    public string? SessionKey { get; set; }

    /// <summary>A pin lapses after this long without requests. <value>Default: 30 minutes.</value></summary>
    public TimeSpan SessionTtl { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// How far above its weighted share of the pool's requests in flight a backend may be and still take a new session
    /// (consistent hashing with bounded loads, as HAProxy's <c>hash-balance-factor</c> / 100): a new session goes to the
    /// first backend in its key's rendezvous order within this factor of its share plus two requests. Lower balances
    /// tighter; higher keeps more sessions where a gateway without their pin would guess them. 0 ignores load (plain
    /// consistent hashing). <value>Default: 2.</value>
    /// </summary>
    public double BalanceFactor { get; set; } = BoundedLoadPlacement.DefaultBalanceFactor;

    /// <summary>
    /// How a new session or a keyless request picks its backend: <c>LeastLoaded</c>, <c>RoundRobin</c>,
    /// <c>WeightedRoundRobin</c>, <c>Random</c>, <c>Hash</c> (over <see cref="HashKey"/>) or <c>FirstAvailable</c>.
    /// Returning sessions always follow their pin. <value>Default: LeastLoaded.</value>
    /// </summary>
    public BalancingPolicyKind Policy { get; set; }

    /// <summary>
    /// What the <c>Hash</c> policy hashes: <c>ClientIp</c>, <c>Header:&lt;name&gt;</c>, <c>Cookie:&lt;name&gt;</c>,
    /// <c>Claim:&lt;type&gt;</c> or <c>Path</c>. Required with <c>Hash</c>, refused with any other policy.
    /// <value>Default: empty.</value>
    /// </summary>
    public string? HashKey { get; set; }

    /// <summary>
    /// The HTTP version spoken to the backends: <c>Auto</c> (HTTP/2 where TLS negotiates it, else HTTP/1.1), <c>Http1</c>,
    /// or <c>Http2</c> (HTTP/2 only: h2c with prior knowledge on <c>http://</c>, for gRPC and other HTTP/2-only
    /// backends). <value>Default: Auto.</value>
    /// </summary>
    public BackendProtocol BackendProtocol { get; set; }

    /// <summary>How HTTPS backends are trusted: the operating system's store, or a CA file.</summary>
    public BackendTlsOptions BackendTls { get; set; } = new();

    /// <summary>Retrying a request whose backend could not be reached.</summary>
    public RetryOptions Retry { get; set; } = new();

    /// <summary>Backends by id; seeds the pool's registry the first time the cluster sees the pool.</summary>
    public Dictionary<string, BackendOptions> Backends { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Active health checks, run once per backend for the whole cluster.</summary>
    public HealthCheckOptions HealthCheck { get; set; } = new();

    /// <summary>Passive health: ejection on failures reported by all gateways.</summary>
    public PassiveHealthOptions PassiveHealth { get; set; } = new();

    /// <summary>
    /// A backend that is added or becomes healthy again ramps from a tenth of its weight to all of it over this long,
    /// on the pool grain's clock so every gateway agrees. <value>Default: zero (off).</value>
    /// </summary>
    public TimeSpan SlowStart { get; set; } = TimeSpan.Zero;

    /// <summary>How long a drained backend keeps its sessions unless the drain request says otherwise. <value>Default: 5 minutes.</value></summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Percent of the active backends that must be healthy. Below it the pool panics: every active backend takes
    /// traffic, healthy or not, rather than the few healthy ones taking all of it (Envoy's panic threshold). Panic ends
    /// once one backend more than the threshold needs is healthy again. 0 disables panic. <value>Default: 50.</value>
    /// </summary>
    public int PanicThreshold { get; set; } = PoolSettings.DefaultPanicThreshold;

    /// <summary>The settings the pool grain applies; the probes trust HTTPS backends as <paramref name="trust"/> says.</summary>
    public PoolSettings ToSettings(BackendTrust? trust = null) => new(
        new ActiveHealthSettings(HealthCheck.Enabled ? HealthCheck.Path : "", HealthCheck.Interval, HealthCheck.Timeout, HealthCheck.Rise, HealthCheck.Fall, HealthCheck.WaitForFirstPass, trust?.Pem),
        new PassiveHealthSettings(
            PassiveHealth.ConsecutiveFailures,
            PassiveHealth.FailureRate,
            PassiveHealth.MinimumRequests,
            PassiveHealth.Window,
            PassiveHealth.EjectionTime,
            PassiveHealth.MaxEjectionTime,
            PassiveHealth.MaxEjectedPercent),
        SlowStart,
        DrainTimeout,
        PanicThreshold);
}

/// <summary>The HTTP version a pool speaks to its backends.</summary>
public enum BackendProtocol
{
    /// <summary>YARP's default: HTTP/2 when TLS negotiates it (ALPN), else HTTP/1.1.</summary>
    Auto = 0,

    /// <summary>HTTP/1.1 only.</summary>
    Http1,

    /// <summary>HTTP/2 only; over <c>http://</c> that is h2c with prior knowledge.</summary>
    Http2,
}

/// <summary>Failures after which a request may be retried on another backend.</summary>
[Flags]
public enum RetryOn
{
    /// <summary>Never.</summary>
    None = 0,

    /// <summary>The backend could not be reached or failed before sending a response (connection refused or reset).</summary>
    Unreachable = 1,

    /// <summary>The backend accepted the request but sent no response within YARP's activity timeout.</summary>
    Timeout = 2,
}

/// <summary>
/// Retries of a pool: a request is retried once, on another backend, when it failed in one of <see cref="On"/>'s ways,
/// its method is one of <see cref="Methods"/>, it has no body, and nothing of the response reached the client yet.
/// A session's retry goes where placement would re-pin it; the pin itself stays (health decides whether it moves).
/// </summary>
public sealed class RetryOptions
{
    /// <summary>The methods retried by default: idempotent and without body by nature.</summary>
    public static readonly IReadOnlyList<string> DefaultMethods = ["GET", "HEAD", "OPTIONS"];

    /// <summary>Whether requests are retried at all. <value>Default: true.</value></summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Methods that may be retried. Only list methods that are idempotent for your backends: a request that failed
    /// may have been processed. <value>Default: GET, HEAD, OPTIONS.</value>
    /// </summary>
    public List<string>? Methods { get; set; }

    /// <summary>
    /// Failures retried, comma-separated: <c>Unreachable</c>, <c>Timeout</c>, or <c>None</c>.
    /// <value>Default: Unreachable.</value>
    /// </summary>
    public RetryOn On { get; set; } = RetryOn.Unreachable;

    /// <summary>The methods in effect.</summary>
    public IReadOnlyList<string> EffectiveMethods => Methods is { Count: > 0 } methods ? methods : DefaultMethods;
}

/// <summary>Active health checks of a pool (HAProxy-like defaults).</summary>
public sealed class HealthCheckOptions
{
    /// <summary>Whether backends are probed. <value>Default: true.</value></summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Path probed with GET. <value>Default: <c>/healthz</c>.</value></summary>
    public string Path { get; set; } = "/healthz";

    /// <summary>Time between probes. <value>Default: 2 s.</value></summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>A slower probe fails. <value>Default: 1 s.</value></summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Passes in a row that make a backend healthy. <value>Default: 2.</value></summary>
    public int Rise { get; set; } = 2;

    /// <summary>Failures in a row that make a backend unhealthy. <value>Default: 3.</value></summary>
    public int Fall { get; set; } = 3;

    /// <summary>
    /// A backend added through the admin API takes no sessions until its first Rise probes pass (Envoy's
    /// <c>ignore_new_hosts_until_first_hc</c>); otherwise it is presumed healthy until a verdict says otherwise.
    /// <value>Default: false.</value>
    /// </summary>
    public bool WaitForFirstPass { get; set; }
}

/// <summary>Passive health of a pool (Envoy-like outlier detection defaults).</summary>
public sealed class PassiveHealthOptions
{
    /// <summary>Failures in a row, across all gateways, that eject a backend; 0 disables. <value>Default: 5.</value></summary>
    public int ConsecutiveFailures { get; set; } = 5;

    /// <summary>Failed share of requests in the window that ejects (0–1); 0 disables. <value>Default: 0.5.</value></summary>
    public double FailureRate { get; set; } = 0.5;

    /// <summary>Requests in the window before the failure rate counts. <value>Default: 20.</value></summary>
    public int MinimumRequests { get; set; } = 20;

    /// <summary>Failure-rate window. <value>Default: 10 s.</value></summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>First ejection's length, doubling on repeats. <value>Default: 30 s.</value></summary>
    public TimeSpan EjectionTime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest ejection. <value>Default: 5 minutes.</value></summary>
    public TimeSpan MaxEjectionTime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Most of the pool ejected at once, in percent (at least one backend). <value>Default: 50.</value></summary>
    public int MaxEjectedPercent { get; set; } = 50;
}

/// <summary>One backend of a pool.</summary>
public sealed class BackendOptions
{
    /// <summary>Absolute http(s) base address, e.g. <c>http://10.0.0.5:8080/</c>.</summary>
    public string Address { get; set; } = "";

    /// <summary>Relative capacity, 1–1000. <value>Default: 1.</value></summary>
    public int Weight { get; set; } = 1;

    /// <summary>Most requests in flight to this backend across all gateways; 0 for no limit. <value>Default: 0.</value></summary>
    public int MaxInFlight { get; set; }
}

/// <summary>Which requests go to which pool.</summary>
public sealed class RouteOptions
{
    /// <summary>Target pool name.</summary>
    public string Pool { get; set; } = "";

    /// <summary>ASP.NET Core route template. <value>Default: <c>/{**catch-all}</c>.</value></summary>
    public string? Path { get; set; }

    /// <summary>Host names to match; empty matches any host.</summary>
    public List<string> Hosts { get; set; } = [];

    /// <summary>Lower values are matched first. <value>Default: 0.</value></summary>
    public int Order { get; set; }
}

/// <summary>Session cookie issuing and signing.</summary>
public sealed class SessionCookieOptions
{
    /// <summary>
    /// Base64 HMAC key (at least 32 bytes) shared by every gateway, so a cookie issued by one validates on all.
    /// <value>Default: a random key per process, with a warning (cookies then do not survive a restart or cross gateways).</value>
    /// </summary>
    public string? SigningKey { get; set; }

    /// <summary>
    /// Keys this gateway signed with before (base64, at least 32 bytes each): cookies they signed are still accepted and
    /// issued again with <see cref="SigningKey"/>, so keys rotate without moving sessions. <value>Default: none.</value>
    /// </summary>
    public List<string> PreviousSigningKeys { get; set; } = [];

    /// <summary>SameSite mode of issued cookies. <value>Default: Lax.</value></summary>
    public SameSiteMode SameSite { get; set; } = SameSiteMode.Lax;
}

/// <summary>
/// How many new sessions one client (IP address, after trusted forwarded headers) may start: a token bucket for the
/// whole cluster, each gateway enforcing its share (the budget divided by the gateways with a live lease). Past it a
/// new session is routed as a keyless request (by the pool's policy, no pin written, no cookie issued); a known session is
/// never refused.
/// </summary>
public sealed class NewSessionOptions
{
    /// <summary>
    /// New sessions per second per client, cluster-wide; 0 turns the budget off. Clients behind one NAT share it: raise
    /// it where many users arrive from one address. <value>Default: 20.</value>
    /// </summary>
    public double PerClientPerSecond { get; set; } = 20;

    /// <summary>New sessions a client may start at once, cluster-wide. <value>Default: 200.</value></summary>
    public int PerClientBurst { get; set; } = 200;
}

/// <summary>The gateway's bounded cache of pins, so steady-state requests need no grain call.</summary>
public sealed class PinCacheOptions
{
    /// <summary>Most pins cached per pool. <value>Default: 100,000.</value></summary>
    public int MaxEntries { get; set; } = 100_000;

    /// <summary>
    /// How long a cached pin is used before it is confirmed with its session grain again (in the background; the
    /// request does not wait), which extends the session's idle expiry cluster-wide. Pins moved by other gateways do
    /// not wait for it: they reach the cache through the pool snapshot (pin generations, admin unpins). A session idle
    /// after its last request lapses between <c>SessionTtl − ConfirmInterval</c> and <c>SessionTtl</c> after it.
    /// Each confirmation is one grain call (and, for a grain no longer in memory, one storage read and write), so this
    /// sets the steady-state load on the cluster: sessions in use / interval. Must be shorter than every pool's
    /// SessionTtl. <value>Default: 5 minutes.</value>
    /// </summary>
    public TimeSpan ConfirmInterval { get; set; } = TimeSpan.FromMinutes(5);
}
