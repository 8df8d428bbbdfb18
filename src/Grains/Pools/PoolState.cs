using Distributed.Grains.Abstractions;

namespace Distributed.Grains.Pools;

/// <summary>The persisted backend catalog of one pool (its backends and settings). Load is not persisted: it is rebuilt from the next round of reports.</summary>
[GenerateSerializer, Alias("Distributed.PoolState")]
public sealed class PoolState
{
    /// <summary>Whether the catalog was seeded; after that, configuration no longer overwrites it.</summary>
    [Id(0)]
    public bool Initialized { get; set; }

    /// <summary>Increases with every catalog change (stored under the name it had before the catalog was called so).</summary>
    [Id(1)]
    public long RegistryVersion { get; set; }

    /// <summary>Registered backends.</summary>
    [Id(2)]
    public List<BackendRecord> Backends { get; set; } = [];

    /// <summary>Health and operations settings, as last sent by a gateway.</summary>
    [Id(3)]
    public PoolSettings? Settings { get; set; }

    /// <summary>The settings in effect: the defaults until a gateway sent some.</summary>
    public PoolSettings EffectiveSettings => Settings ?? PoolSettings.Default;

    /// <summary>
    /// A deep copy: a change is made on a copy, stored, and only then takes the original's place, so nothing that was
    /// not stored is ever served.
    /// </summary>
    public PoolState Clone() => new()
    {
        Initialized = Initialized,
        RegistryVersion = RegistryVersion,
        Backends = Backends.ConvertAll(b => b.Clone()),
        Settings = Settings,
    };

    /// <summary>The backend with <paramref name="backendId"/>, or <c>null</c>.</summary>
    public BackendRecord? Find(string backendId) => Backends.Find(b => string.Equals(b.Id, backendId, StringComparison.Ordinal));
}

/// <summary>A registered backend.</summary>
[GenerateSerializer, Alias("Distributed.BackendRecord")]
public sealed class BackendRecord
{
    /// <summary>Backend id.</summary>
    [Id(0)]
    public string Id { get; set; } = "";

    /// <summary>Base address.</summary>
    [Id(1)]
    public string Address { get; set; } = "";

    /// <summary>Relative capacity.</summary>
    [Id(2)]
    public int Weight { get; set; } = 1;

    /// <summary>Administrative state.</summary>
    [Id(3)]
    public BackendState State { get; set; }

    /// <summary>Cluster-wide limit of requests in flight; 0 for none.</summary>
    [Id(4)]
    public int MaxInFlight { get; set; }

    /// <summary>When a draining backend's sessions move.</summary>
    [Id(5)]
    public DateTimeOffset? DrainDeadline { get; set; }

    /// <summary>When the backend was added (start of its slow start).</summary>
    [Id(6)]
    public DateTimeOffset AddedAt { get; set; }

    /// <summary>
    /// Names the backend's current keeps-sessions state; moves on with every change of it (see
    /// <see cref="BackendSnapshot.PinGeneration"/>). Persisted, so the pool grain moving to another silo does not make
    /// every gateway re-check every cached pin at once.
    /// </summary>
    [Id(7)]
    public long PinGeneration { get; set; }

    /// <summary>Whether the backend keeps sessions (the state <see cref="PinGeneration"/> names), as stored.</summary>
    [Id(8)]
    public bool KeepsSessions { get; set; } = true;

    /// <summary>Whether the backend is draining and its deadline has passed: its sessions move.</summary>
    public bool DrainedOut(DateTimeOffset now) => State == BackendState.Draining && DrainDeadline <= now;

    /// <summary>A copy.</summary>
    public BackendRecord Clone() => (BackendRecord)MemberwiseClone();
}
