using Orleans.Concurrency;

namespace Distributed.Grains.Abstractions;

/// <summary>Active health checking of a pool's backends: one prober per backend for the whole cluster.</summary>
/// <param name="Path">Path probed with GET; empty disables active checks.</param>
/// <param name="Interval">Time between probes.</param>
/// <param name="Timeout">A probe slower than this fails.</param>
/// <param name="Rise">Consecutive passes that make an unhealthy backend healthy.</param>
/// <param name="Fall">Consecutive failures that make a healthy backend unhealthy.</param>
/// <param name="WaitForFirstPass">
/// A backend added through the admin API takes no sessions until its prober's first verdict is a pass (Rise probes),
/// as Envoy's <c>ignore_new_hosts_until_first_hc</c>. Off: it is presumed healthy until a verdict says otherwise.
/// </param>
/// <param name="TrustedAuthorities">
/// PEM of the certificate authorities an HTTPS backend's certificate must chain to (<see cref="BackendTrust"/>), the
/// same the gateways forward with; <c>null</c> for the operating system's trust store.
/// </param>
[GenerateSerializer, Immutable, Alias("Distributed.ActiveHealthSettings")]
public sealed record ActiveHealthSettings(
    [property: Id(0)] string Path,
    [property: Id(1)] TimeSpan Interval,
    [property: Id(2)] TimeSpan Timeout,
    [property: Id(3)] int Rise,
    [property: Id(4)] int Fall,
    [property: Id(5)] bool WaitForFirstPass = false,
    [property: Id(6)] string? TrustedAuthorities = null)
{
    /// <summary>HAProxy-like defaults: <c>/healthz</c> every 2 s, 1 s timeout, 2 up, 3 down.</summary>
    public static ActiveHealthSettings Default { get; } = new("/healthz", TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1), 2, 3);

    /// <summary>Whether probing is on.</summary>
    public bool Enabled => !string.IsNullOrEmpty(Path);
}

/// <summary>Passive health: ejection on failures reported by all gateways together.</summary>
/// <param name="ConsecutiveFailures">Failures in a row (no success reported in between) that eject.</param>
/// <param name="FailureRate">Share of failed requests in <paramref name="Window"/> that ejects (0–1).</param>
/// <param name="MinimumRequests">Requests in the window before the failure rate counts.</param>
/// <param name="Window">How far back the failure rate looks.</param>
/// <param name="EjectionTime">First ejection's length; doubles with each repeat.</param>
/// <param name="MaxEjectionTime">Longest ejection.</param>
/// <param name="MaxEjectedPercent">Never eject more than this share of the pool (at least one backend may be ejected).</param>
[GenerateSerializer, Immutable, Alias("Distributed.PassiveHealthSettings")]
public sealed record PassiveHealthSettings(
    [property: Id(0)] int ConsecutiveFailures,
    [property: Id(1)] double FailureRate,
    [property: Id(2)] int MinimumRequests,
    [property: Id(3)] TimeSpan Window,
    [property: Id(4)] TimeSpan EjectionTime,
    [property: Id(5)] TimeSpan MaxEjectionTime,
    [property: Id(6)] int MaxEjectedPercent)
{
    /// <summary>Envoy-like defaults: 5 in a row or 50% of ≥ 20 in 10 s; 30 s doubling to 5 min; at most half the pool.</summary>
    public static PassiveHealthSettings Default { get; } = new(5, 0.5, 20, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(5), 50);
}

/// <summary>A pool's health and operations settings, sent by the gateways from their configuration.</summary>
/// <param name="Active">Active probing.</param>
/// <param name="Passive">Passive ejection.</param>
/// <param name="SlowStart">A backend that is added or becomes healthy ramps to its full weight over this long; zero disables.</param>
/// <param name="DrainTimeout">Default time a drained backend keeps its sessions.</param>
/// <param name="PanicThreshold">
/// Percent of the active backends that must be healthy; below it the pool panics and every active backend takes
/// traffic. 0 disables panic; <c>null</c> (settings stored before the threshold existed) means the default,
/// <see cref="DefaultPanicThreshold"/>.
/// </param>
[GenerateSerializer, Immutable, Alias("Distributed.PoolSettings")]
public sealed record PoolSettings(
    [property: Id(0)] ActiveHealthSettings Active,
    [property: Id(1)] PassiveHealthSettings Passive,
    [property: Id(2)] TimeSpan SlowStart,
    [property: Id(3)] TimeSpan DrainTimeout,
    [property: Id(4)] int? PanicThreshold = PoolSettings.DefaultPanicThreshold)
{
    /// <summary>Envoy's default panic threshold: half of the pool.</summary>
    public const int DefaultPanicThreshold = 50;

    /// <summary>The defaults of every part.</summary>
    public static PoolSettings Default { get; } = new(ActiveHealthSettings.Default, PassiveHealthSettings.Default, TimeSpan.Zero, TimeSpan.FromMinutes(5));

    /// <summary>The panic threshold in effect, in percent.</summary>
    public int EffectivePanicThreshold => PanicThreshold ?? DefaultPanicThreshold;
}

/// <summary>Probes one backend (key <c>{pool}/{backendId}</c>: <see cref="GrainKeys.Backend"/>) on a grain timer: one prober per backend cluster-wide.</summary>
public interface IBackendProbeGrain : IGrainWithStringKey
{
    /// <summary>
    /// Starts or retargets probing and renews the prober's lease; idempotent, sent by the pool grain periodically so a
    /// prober lost with a silo comes back. A prober whose lease runs out stops by itself: the pool grain no longer
    /// asks for it (its backend was removed or probing turned off, possibly while the pool grain moved and forgot it).
    /// One-way: the prober reports to the pool grain, so a two-way call here could deadlock the pair.
    /// </summary>
    [OneWay]
    Task EnsureProbingAsync(string address, ActiveHealthSettings settings, TimeSpan lease);

    /// <summary>Stops probing now (backend removed or probing disabled). One-way, as <see cref="EnsureProbingAsync"/>.</summary>
    [OneWay]
    Task StopAsync();
}
