using Distributed.Gateway.LoadBalancing;
using Distributed.Grains.Abstractions;

namespace Distributed.Gateway.Configuration;

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

    /// <summary>Backends by id; seeds the pool's backend catalog the first time the cluster sees the pool.</summary>
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
