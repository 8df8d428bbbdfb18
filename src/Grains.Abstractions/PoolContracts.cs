using System.Collections.Immutable;
using Orleans.Concurrency;

namespace Distributed.Grains.Abstractions;

/// <summary>Administrative state of a backend in a pool.</summary>
public enum BackendState
{
    /// <summary>Takes new sessions and keyless requests.</summary>
    Active = 0,

    /// <summary>Takes no new sessions; existing pins stay until they lapse or the drain deadline passes.</summary>
    Draining = 1,
}

/// <summary>The cluster's one health verdict on a backend.</summary>
public enum BackendHealth
{
    /// <summary>Probes pass (or no probe is configured) and passive reports show no trouble.</summary>
    Healthy = 0,

    /// <summary>The active probe failed <c>Fall</c> times in a row and has not passed <c>Rise</c> times since.</summary>
    Unhealthy = 1,

    /// <summary>Ejected for a while after failures reported by the gateways (passive health).</summary>
    Ejected = 2,

    /// <summary>
    /// Not checked yet: a backend added while <see cref="ActiveHealthSettings.WaitForFirstPass"/> is on, until its
    /// prober's first verdict. It takes no sessions meanwhile, not even in panic.
    /// </summary>
    Unknown = 3,
}

/// <summary>A backend as configured or added: identity, address, weight and limit.</summary>
/// <param name="Id">Stable id, unique in its pool (used as YARP destination id and in pins).</param>
/// <param name="Address">Base address, e.g. <c>http://127.0.0.1:5001/</c>.</param>
/// <param name="Weight">Relative capacity (1–1000); load is divided by it.</param>
/// <param name="MaxInFlight">Most requests in flight cluster-wide; 0 for no limit.</param>
[GenerateSerializer, Immutable, Alias("Distributed.BackendSpec")]
public sealed record BackendSpec(
    [property: Id(0)] string Id,
    [property: Id(1)] string Address,
    [property: Id(2)] int Weight,
    [property: Id(3)] int MaxInFlight = 0);

/// <summary>A backend as the whole cluster sees it at one instant.</summary>
/// <param name="Id">Backend id.</param>
/// <param name="Address">Base address.</param>
/// <param name="Weight">Configured relative capacity.</param>
/// <param name="State">Administrative state.</param>
/// <param name="ClusterInFlight">Requests in flight to this backend summed over every gateway with a live lease.</param>
/// <param name="Health">The cluster's health verdict.</param>
/// <param name="EffectiveWeight">Weight after slow start: ramps from a tenth to the full weight.</param>
/// <param name="MaxInFlight">Cluster-wide limit of requests in flight; 0 for none.</param>
/// <param name="AcceptsNewSessions">May take new sessions and keyless requests (active and healthy, or panic).</param>
/// <param name="KeepsSessions">Existing pins stay (healthy or panic, and not past a drain deadline).</param>
/// <param name="DrainDeadline">When a draining backend's remaining sessions are moved.</param>
/// <param name="RequestRate">Requests per second completed across every gateway, over the passive-health window.</param>
/// <param name="PinGeneration">
/// Names the backend's current keeps-sessions state: it increases every time the backend stops keeping sessions
/// (unhealthy, ejected, past a drain deadline), when gateways may move its sessions elsewhere, and every time it starts
/// keeping them again; it never repeats, even across a catalog lost and re-seeded (it starts at the pool grain's clock
/// in milliseconds). A gateway's cached pin taken under another generation is checked with its session grain before it
/// is used again, even if the gateway never saw the backend unusable; a session grain refuses a re-pin away from a
/// backend seen unusable at an older generation than the one the pin was confirmed at (a stale view).
/// </param>
[GenerateSerializer, Immutable, Alias("Distributed.BackendSnapshot")]
public sealed record BackendSnapshot(
    [property: Id(0)] string Id,
    [property: Id(1)] string Address,
    [property: Id(2)] int Weight,
    [property: Id(3)] BackendState State,
    [property: Id(4)] int ClusterInFlight,
    [property: Id(5)] BackendHealth Health = BackendHealth.Healthy,
    [property: Id(6)] double EffectiveWeight = 1,
    [property: Id(7)] int MaxInFlight = 0,
    [property: Id(8)] bool AcceptsNewSessions = true,
    [property: Id(9)] bool KeepsSessions = true,
    [property: Id(10)] DateTimeOffset? DrainDeadline = null,
    [property: Id(11)] double RequestRate = 0,
    [property: Id(12)] long PinGeneration = 0);

/// <summary>The pool tracker's answer to every report: its backend catalog plus aggregated load.</summary>
/// <param name="Pool">Pool name.</param>
/// <param name="RegistryVersion">The catalog's version: increases whenever a backend is added, removed or changes address, weight or state.</param>
/// <param name="Backends">Every registered backend, ordered by id.</param>
/// <param name="LiveGateways">Gateways whose load lease has not expired.</param>
/// <param name="GeneratedAt">The tracker's clock when the snapshot was made.</param>
/// <param name="Panic">
/// Too few backends are healthy (below the pool's panic threshold): every active backend takes traffic, healthy or not,
/// rather than the few healthy ones taking all of it.
/// </param>
/// <param name="RecentlyUnpinned">
/// Sessions unpinned through the admin API in the last 10 minutes, each once, so every gateway drops them from its pin cache.
/// </param>
/// <param name="Gateways">Gateways with a live lease, with their last report.</param>
/// <param name="Unseeded">
/// The pool has no catalog: it was never seeded, or its store lost the data. Gateways keep their last view and seed
/// the pool again (<see cref="IPoolGrain.InitializeAsync"/>).
/// </param>
[GenerateSerializer, Immutable, Alias("Distributed.PoolSnapshot")]
public sealed record PoolSnapshot(
    [property: Id(0)] string Pool,
    [property: Id(1)] long RegistryVersion,
    [property: Id(2)] ImmutableArray<BackendSnapshot> Backends,
    [property: Id(3)] int LiveGateways,
    [property: Id(4)] DateTimeOffset GeneratedAt,
    [property: Id(5)] bool Panic = false,
    [property: Id(6)] ImmutableArray<string> RecentlyUnpinned = default,
    [property: Id(7)] ImmutableArray<GatewayStatus> Gateways = default,
    [property: Id(8)] bool Unseeded = false);

/// <summary>A gateway as the tracker sees it.</summary>
/// <param name="Id">Gateway id.</param>
/// <param name="LastReport">When its last load report arrived.</param>
/// <param name="Degraded">Whether it said it was degraded (request-path grain calls failing).</param>
[GenerateSerializer, Immutable, Alias("Distributed.GatewayStatus")]
public sealed record GatewayStatus(
    [property: Id(0)] string Id,
    [property: Id(1)] DateTimeOffset LastReport,
    [property: Id(2)] bool Degraded);

/// <summary>One gateway's load on one backend, and the outcomes since its previous report.</summary>
/// <param name="BackendId">Backend id.</param>
/// <param name="InFlight">Requests in flight from this gateway right now.</param>
/// <param name="Completed">Requests finished since the previous report.</param>
/// <param name="Failed">Of those, transport failures and 5xx answers (passive health).</param>
[GenerateSerializer, Immutable, Alias("Distributed.BackendLoad")]
public sealed record BackendLoad(
    [property: Id(0)] string BackendId,
    [property: Id(1)] int InFlight,
    [property: Id(2)] long Completed = 0,
    [property: Id(3)] long Failed = 0);

/// <summary>A gateway's periodic load report.</summary>
/// <param name="GatewayId">Unique per gateway process.</param>
/// <param name="Backends">Per-backend load; backends not listed count as zero in flight.</param>
/// <param name="Lease">How long the report counts; a gateway that stops reporting drops out after it.</param>
/// <param name="Degraded">The gateway's own degraded flag, for operators.</param>
[GenerateSerializer, Immutable, Alias("Distributed.LoadReport")]
public sealed record LoadReport(
    [property: Id(0)] string GatewayId,
    [property: Id(1)] ImmutableArray<BackendLoad> Backends,
    [property: Id(2)] TimeSpan Lease,
    [property: Id(3)] bool Degraded = false);

/// <summary>How an admin operation on a pool's catalog ended.</summary>
public enum AdminOutcome
{
    /// <summary>Changed (or nothing to change), stored and applied.</summary>
    Done = 0,

    /// <summary>A backend was added, stored and applied.</summary>
    Created = 1,

    /// <summary>No backend with that id: nothing changed.</summary>
    NotFound = 2,

    /// <summary>The operation contradicts the catalog (e.g. adding an id that exists): nothing changed.</summary>
    Conflict = 3,

    /// <summary>The request is invalid (see the detail): nothing changed.</summary>
    Invalid = 4,

    /// <summary>The pool's store refused the change: nothing changed; it may be retried.</summary>
    NotStored = 5,
}

/// <summary>The answer to an admin operation.</summary>
/// <param name="Outcome">How it ended.</param>
/// <param name="Snapshot">The pool after it (unchanged unless <see cref="AdminOutcome.Done"/> or <see cref="AdminOutcome.Created"/>).</param>
/// <param name="Detail">What was wrong, for an operator, unless it succeeded.</param>
[GenerateSerializer, Immutable, Alias("Distributed.AdminResult")]
public sealed record AdminResult(
    [property: Id(0)] AdminOutcome Outcome,
    [property: Id(1)] PoolSnapshot Snapshot,
    [property: Id(2)] string? Detail = null)
{
    /// <summary>Whether the change was stored and applied.</summary>
    public bool Succeeded => Outcome is AdminOutcome.Done or AdminOutcome.Created;
}

/// <summary>A change to an existing backend: each field left <c>null</c> keeps its value.</summary>
/// <param name="Address">New base address.</param>
/// <param name="Weight">New relative capacity (1–1000).</param>
/// <param name="MaxInFlight">New cluster-wide in-flight limit; 0 for none.</param>
[GenerateSerializer, Immutable, Alias("Distributed.BackendPatch")]
public sealed record BackendPatch(
    [property: Id(0)] string? Address = null,
    [property: Id(1)] int? Weight = null,
    [property: Id(2)] int? MaxInFlight = null);

/// <summary>
/// The backend tracker of one pool (key = pool name): its backend catalog, the cluster-wide in-flight load
/// aggregated from every gateway's leased reports, and the one health verdict per backend (active probes plus
/// passive failure reports pooled from all gateways).
/// </summary>
/// <remarks>
/// Reads, reports and verdicts never wait for the store: they are answered from memory (marked
/// <see cref="AlwaysInterleaveAttribute"/>, they run even while an admin change or a background write waits for the
/// store). Admin operations run one at a time; each validates, stores, and only then applies its change.
/// </remarks>
public interface IPoolGrain : IGrainWithStringKey
{
    /// <summary>
    /// Seeds the catalog from configuration the first time a pool is used; a catalog that already exists
    /// (persisted, or seeded by another gateway) is kept. The settings replace the previous ones. Returns the snapshot.
    /// </summary>
    Task<PoolSnapshot> InitializeAsync(ImmutableArray<BackendSpec> seed, PoolSettings settings, CancellationToken cancellationToken = default);

    /// <summary>Records a gateway's load and outcomes under a lease and returns the new snapshot.</summary>
    [AlwaysInterleave]
    Task<PoolSnapshot> ReportAsync(LoadReport report, CancellationToken cancellationToken = default);

    /// <summary>
    /// Drops a gateway's lease at once, for a gateway that is shutting down: its in-flight counts leave the snapshot
    /// now instead of when its last report's lease runs out. Unknown gateways are ignored.
    /// </summary>
    Task ReleaseLeaseAsync(string gatewayId, CancellationToken cancellationToken = default);

    /// <summary>The current snapshot, without reporting; never writes.</summary>
    [AlwaysInterleave]
    Task<PoolSnapshot> GetSnapshotAsync();

    /// <summary>
    /// The pool's recent state transitions after the event id <paramref name="after"/> (all kept ones for <c>null</c>,
    /// or when <paramref name="after"/> is above every id this log gave: a cursor from another log), oldest first. Kept in
    /// memory, the last <see cref="PoolEventPage.Capacity"/> of them since the pool grain's activation; never writes.
    /// </summary>
    [AlwaysInterleave]
    Task<PoolEventPage> GetEventsAsync(long? after = null);

    /// <summary>Adds a backend; <see cref="AdminOutcome.Conflict"/> when the id exists. <paramref name="actor"/> says who, for the log.</summary>
    Task<AdminResult> AddBackendAsync(BackendSpec backend, string actor);

    /// <summary>Changes an existing backend's address, weight or limit; <see cref="AdminOutcome.NotFound"/> when there is none.</summary>
    Task<AdminResult> UpdateBackendAsync(string backendId, BackendPatch patch, string actor);

    /// <summary>Removes a backend; its sessions are re-pinned on their next request.</summary>
    Task<AdminResult> RemoveBackendAsync(string backendId, string actor);

    /// <summary>
    /// Drains a backend: no new sessions; existing ones stay until they lapse or <paramref name="timeout"/> (default: the
    /// pool's drain timeout, at most 7 days) passes, then move.
    /// </summary>
    Task<AdminResult> DrainBackendAsync(string backendId, TimeSpan? timeout, string actor);

    /// <summary>Undoes a drain: the backend takes new sessions again.</summary>
    Task<AdminResult> CancelDrainAsync(string backendId, string actor);

    /// <summary>
    /// Tells every gateway (through the snapshots of the next 10 minutes) to forget its cached pin of a session; sent by
    /// the session grain when it is unpinned. Idempotent: the session is listed once, for 10 minutes from the last call.
    /// </summary>
    [AlwaysInterleave]
    Task NotifyUnpinnedAsync(string sessionKey);

    /// <summary>
    /// The active prober's verdict on <paramref name="address"/> (Rise passes / Fall failures in a row), sent after every
    /// probe once it has one. Ignored while probing is off or when the backend's address is another one.
    /// </summary>
    [OneWay, AlwaysInterleave]
    Task ReportProbeAsync(string backendId, string address, bool healthy);
}
