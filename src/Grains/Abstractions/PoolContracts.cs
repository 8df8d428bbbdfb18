using System.Collections.Immutable;

namespace Distributed.Grains.Abstractions;

/// <summary>Administrative state of a backend in a pool.</summary>
public enum BackendState
{
    /// <summary>Takes new sessions and keyless requests.</summary>
    Active = 0,

    /// <summary>Takes no new sessions; existing pins stay until they lapse.</summary>
    Draining = 1,
}

/// <summary>A backend as configured: identity, address and weight.</summary>
/// <param name="Id">Stable id, unique in its pool (used as YARP destination id and in pins).</param>
/// <param name="Address">Base address, e.g. <c>http://127.0.0.1:5001/</c>.</param>
/// <param name="Weight">Relative capacity (1–1000); load is divided by it.</param>
[GenerateSerializer, Immutable, Alias("Distributed.BackendSpec")]
public sealed record BackendSpec(
    [property: Id(0)] string Id,
    [property: Id(1)] string Address,
    [property: Id(2)] int Weight);

/// <summary>A backend as the whole cluster sees it at one instant.</summary>
/// <param name="Id">Backend id.</param>
/// <param name="Address">Base address.</param>
/// <param name="Weight">Relative capacity.</param>
/// <param name="State">Administrative state.</param>
/// <param name="ClusterInFlight">Requests in flight to this backend summed over every gateway with a live lease.</param>
[GenerateSerializer, Immutable, Alias("Distributed.BackendSnapshot")]
public sealed record BackendSnapshot(
    [property: Id(0)] string Id,
    [property: Id(1)] string Address,
    [property: Id(2)] int Weight,
    [property: Id(3)] BackendState State,
    [property: Id(4)] int ClusterInFlight);

/// <summary>The pool tracker's answer to every report: registry plus aggregated load.</summary>
/// <param name="Pool">Pool name.</param>
/// <param name="RegistryVersion">Increases whenever a backend is added, removed or changes address, weight or state.</param>
/// <param name="Backends">Every registered backend, ordered by id.</param>
/// <param name="LiveGateways">Gateways whose load lease has not expired.</param>
/// <param name="GeneratedAt">The tracker's clock when the snapshot was made.</param>
[GenerateSerializer, Immutable, Alias("Distributed.PoolSnapshot")]
public sealed record PoolSnapshot(
    [property: Id(0)] string Pool,
    [property: Id(1)] long RegistryVersion,
    [property: Id(2)] ImmutableArray<BackendSnapshot> Backends,
    [property: Id(3)] int LiveGateways,
    [property: Id(4)] DateTimeOffset GeneratedAt);

/// <summary>One gateway's load on one backend.</summary>
/// <param name="BackendId">Backend id.</param>
/// <param name="InFlight">Requests in flight from this gateway right now.</param>
[GenerateSerializer, Immutable, Alias("Distributed.BackendLoad")]
public sealed record BackendLoad(
    [property: Id(0)] string BackendId,
    [property: Id(1)] int InFlight);

/// <summary>A gateway's periodic load report.</summary>
/// <param name="GatewayId">Unique per gateway process.</param>
/// <param name="Backends">Per-backend load; backends not listed count as zero in flight.</param>
/// <param name="Lease">How long the report counts; a gateway that stops reporting drops out after it.</param>
[GenerateSerializer, Immutable, Alias("Distributed.LoadReport")]
public sealed record LoadReport(
    [property: Id(0)] string GatewayId,
    [property: Id(1)] ImmutableArray<BackendLoad> Backends,
    [property: Id(2)] TimeSpan Lease);

/// <summary>
/// The backend tracker of one pool (key = pool name): registry of backends and the cluster-wide
/// in-flight load aggregated from every gateway's leased reports.
/// </summary>
public interface IPoolGrain : IGrainWithStringKey
{
    /// <summary>
    /// Seeds the registry from configuration the first time a pool is used; a registry that already exists
    /// (persisted, or seeded by another gateway) is kept. Returns the current snapshot.
    /// </summary>
    Task<PoolSnapshot> InitializeAsync(ImmutableArray<BackendSpec> seed, CancellationToken cancellationToken = default);

    /// <summary>Records a gateway's load under a lease and returns the new snapshot.</summary>
    Task<PoolSnapshot> ReportAsync(LoadReport report, CancellationToken cancellationToken = default);

    /// <summary>The current snapshot, without reporting.</summary>
    Task<PoolSnapshot> GetSnapshotAsync();
}
