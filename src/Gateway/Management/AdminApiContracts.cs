using Distributed.Grains.Abstractions;

namespace Distributed.Gateway.Management;

/// <summary>Body of <c>POST /admin/pools/{pool}/backends</c> and <c>PUT .../backends/{id}</c>.</summary>
public sealed record BackendRequest(string? Id, string? Address, int? Weight, int? MaxInFlight);

/// <summary>Body of <c>POST .../backends/{id}/drain</c>; the timeout defaults to the pool's <c>DrainTimeout</c>.</summary>
public sealed record DrainRequest(TimeSpan? Timeout);

/// <summary>
/// A backend as the admin API shows it, with drain progress: <c>SafeToRemove</c> is <c>null</c> (unknown) while the
/// backend's session list may be incomplete (<c>SessionsKnown</c> false: the silo holding it restarted less than a
/// session TTL ago).
/// </summary>
public sealed record BackendDescription(
    string Id,
    string Address,
    int Weight,
    double EffectiveWeight,
    int MaxInFlight,
    string State,
    string Health,
    bool AcceptsNewSessions,
    bool KeepsSessions,
    int ClusterInFlight,
    int Sessions,
    DateTimeOffset? DrainDeadline,
    int? DrainRemainingSessions,
    bool? SafeToRemove,
    double RequestRate,
    bool SessionsKnown);

/// <summary>A pool as the admin API shows it.</summary>
public sealed record PoolDescription(string Name, string? SessionKey, bool Panic, int LiveGateways, IReadOnlyList<BackendDescription> Backends, IReadOnlyList<GatewayStatus> Gateways);

/// <summary>One state transition of a pool, as the admin API shows it (see <see cref="PoolEventRecord"/>).</summary>
public sealed record PoolEventDescription(
    long Id,
    DateTimeOffset At,
    string Kind,
    string? Backend,
    string By,
    string? Detail,
    DateTimeOffset? Until,
    int? Ejections,
    int? Healthy,
    int? Backends,
    int? SessionsPinned);

/// <summary>A pool's recent state transitions, oldest first, kept by its pool grain since <c>KeptSince</c>.</summary>
public sealed record PoolEventsDescription(string Pool, DateTimeOffset KeptSince, int Capacity, IReadOnlyList<PoolEventDescription> Events);
