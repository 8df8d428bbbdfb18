using System.Collections.Immutable;
using Distributed.Grains.Abstractions;
using Distributed.Grains.Health;
using Microsoft.Extensions.Logging;

namespace Distributed.Grains.Pools;

/// <summary>
/// Backend tracker of one pool. Each gateway reports its own in-flight counts and outcomes every few hundred
/// milliseconds under a lease; the snapshot sums the live leases, so a gateway that dies stops counting once its lease
/// runs out. Calls per second are gateways / report interval, independent of the request rate. The grain also holds
/// the one health verdict per backend: the active prober's (one per backend, cluster-wide) and passive ejections from
/// failures pooled across all gateways.
/// </summary>
public sealed partial class PoolGrain(
    [PersistentState("pool", StorageNames.Pools)] IPersistentState<PoolState> state,
    [FromKeyedServices(BalancerTime.ServiceKey)] TimeProvider time,
    ILogger<PoolGrain> logger) : Grain, IPoolGrain
{
    // How often probers are (re)started: a prober lost with a silo is back within this.
    private static readonly TimeSpan ProberRefresh = TimeSpan.FromSeconds(5);
    private readonly Dictionary<string, GatewayLease> _leases = new(StringComparer.Ordinal);
    // Unpinned sessions are announced for longer than a gateway's pin confirmation interval (5 minutes by default), so
    // a gateway that missed every snapshot meanwhile (cut off from the cluster) has confirmed its cached pins since.
    private static readonly TimeSpan UnpinAnnouncement = TimeSpan.FromMinutes(10);
    private readonly Dictionary<string, BackendHealthState> _health = new(StringComparer.Ordinal);
    private readonly Queue<(string Key, DateTimeOffset Until)> _unpinned = new();
    private readonly HashSet<string> _probing = new(StringComparer.Ordinal);

    // A pin generation changed and is not yet persisted.
    private bool _generationUnsaved;

    // Held for the activation's lifetime; Orleans disposes it on deactivation.
    private IGrainTimer? _proberTimer;

    private PoolSettings Settings => state.State.Settings ?? PoolSettings.Default;

    /// <inheritdoc />
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _proberTimer = this.RegisterGrainTimer(EnsureProbersAsync, new GrainTimerCreationOptions(ProberRefresh, ProberRefresh) { KeepAlive = true });
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task<PoolSnapshot> InitializeAsync(ImmutableArray<BackendSpec> seed, PoolSettings settings, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ArgumentNullException.ThrowIfNull(settings);
        var changed = state.State.Settings != settings;
        state.State.Settings = settings;
        if (!state.State.Initialized)
        {
            // The seed starts together, with no traffic yet to protect: no slow start for it (AddedAt left at MinValue).
            state.State.Backends = [.. seed
                .OrderBy(b => b.Id, StringComparer.Ordinal)
                .Select(b => new BackendRecord { Id = b.Id, Address = b.Address, Weight = b.Weight, MaxInFlight = b.MaxInFlight })];
            state.State.Initialized = true;
            state.State.RegistryVersion++;
            changed = true;
        }

        if (changed)
        {
            await state.WriteStateAsync(CancellationToken.None);
            await EnsureProbersAsync(CancellationToken.None);
        }

        return await SnapshotAsync();
    }

    /// <inheritdoc />
    public Task<PoolSnapshot> ReportAsync(LoadReport report, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ArgumentNullException.ThrowIfNull(report);
        ArgumentException.ThrowIfNullOrWhiteSpace(report.GatewayId);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(report.Lease, TimeSpan.Zero);

        var now = time.GetUtcNow();
        if (!_leases.TryGetValue(report.GatewayId, out var lease))
        {
            lease = new GatewayLease();
            _leases.Add(report.GatewayId, lease);
        }

        lease.ExpiresAt = now + report.Lease;
        lease.LastReport = now;
        lease.Degraded = report.Degraded;
        lease.InFlight.Clear();
        foreach (var load in report.Backends)
        {
            if (load.InFlight > 0)
            {
                lease.InFlight[load.BackendId] = load.InFlight;
            }

            if (load.Completed > 0 && Find(load.BackendId) is not null)
            {
                HealthOf(load.BackendId).Passive.Record(now, load.Completed, Math.Min(load.Failed, load.Completed), Settings.Passive.Window);
            }
        }

        EjectFailing(now);
        return SnapshotAsync();
    }

    /// <inheritdoc />
    public Task ReleaseLeaseAsync(string gatewayId, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ArgumentException.ThrowIfNullOrWhiteSpace(gatewayId);
        _leases.Remove(gatewayId);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<PoolSnapshot> GetSnapshotAsync() => SnapshotAsync();

    /// <inheritdoc />
    public async Task<PoolSnapshot> UpsertBackendAsync(BackendSpec backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentException.ThrowIfNullOrWhiteSpace(backend.Id);
        ArgumentException.ThrowIfNullOrWhiteSpace(backend.Address);
        ArgumentOutOfRangeException.ThrowIfLessThan(backend.Weight, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(backend.MaxInFlight);
        if (Find(backend.Id) is { } existing)
        {
            existing.Address = backend.Address;
            existing.Weight = backend.Weight;
            existing.MaxInFlight = backend.MaxInFlight;
        }
        else
        {
            state.State.Backends.Add(new BackendRecord { Id = backend.Id, Address = backend.Address, Weight = backend.Weight, MaxInFlight = backend.MaxInFlight, AddedAt = time.GetUtcNow() });
            state.State.Backends.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
            _health.Remove(backend.Id);
        }

        state.State.Initialized = true;
        await SaveRegistryAsync();
        return await SnapshotAsync();
    }

    /// <inheritdoc />
    public async Task<bool> RemoveBackendAsync(string backendId)
    {
        if (Find(backendId) is not { } backend)
        {
            return false;
        }

        state.State.Backends.Remove(backend);
        _health.Remove(backendId);
        await SaveRegistryAsync();
        if (_probing.Remove(backendId))
        {
            await GrainFactory.GetGrain<IBackendProbeGrain>(ProbeKey(backendId)).StopAsync();
        }

        return true;
    }

    /// <inheritdoc />
    public async Task<bool> DrainBackendAsync(string backendId, TimeSpan? timeout, bool cancel = false)
    {
        if (Find(backendId) is not { } backend)
        {
            return false;
        }

        if (cancel)
        {
            backend.State = BackendState.Active;
            backend.DrainDeadline = null;
        }
        else
        {
            var wait = timeout ?? Settings.DrainTimeout;
            ArgumentOutOfRangeException.ThrowIfLessThan(wait, TimeSpan.Zero);
            backend.State = BackendState.Draining;
            backend.DrainDeadline = time.GetUtcNow() + wait;
        }

        await SaveRegistryAsync();
        return true;
    }

    /// <inheritdoc />
    public Task NotifyUnpinnedAsync(string sessionKey)
    {
        _unpinned.Enqueue((sessionKey, time.GetUtcNow() + UnpinAnnouncement));
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task ReportProbeAsync(string backendId, bool healthy)
    {
        if (Find(backendId) is not null)
        {
            var health = HealthOf(backendId);
            if (healthy && !health.ProbeHealthy)
            {
                health.UsableSince = time.GetUtcNow();
            }

            health.ProbeHealthy = healthy;
        }

        return Task.CompletedTask;
    }

    private async Task SaveRegistryAsync()
    {
        state.State.RegistryVersion++;
        await state.WriteStateAsync(CancellationToken.None);
        await EnsureProbersAsync(CancellationToken.None);
    }

    // One-way calls: the probers report back to this grain.
    private async Task EnsureProbersAsync(CancellationToken cancellationToken)
    {
        var active = Settings.Active;
        foreach (var backend in state.State.Backends)
        {
            var prober = GrainFactory.GetGrain<IBackendProbeGrain>(ProbeKey(backend.Id));
            if (active.Enabled)
            {
                _probing.Add(backend.Id);
                await prober.EnsureProbingAsync(backend.Address, active);
            }
            else if (_probing.Remove(backend.Id))
            {
                await prober.StopAsync();
                HealthOf(backend.Id).ProbeHealthy = true;
            }
        }
    }

    private void EjectFailing(DateTimeOffset now)
    {
        var passive = Settings.Passive;
        var allowed = PassiveHealthTracker.MaxEjected(state.State.Backends.Count, passive);
        foreach (var backend in state.State.Backends)
        {
            var health = HealthOf(backend.Id);
            if (health.EjectedUntil is not null || !health.Passive.ShouldEject(now, passive))
            {
                continue;
            }

            if (_health.Values.Count(h => h.EjectedUntil > now) >= allowed)
            {
                break;
            }

            if (now - health.LastEjectionEnded > passive.MaxEjectionTime * 2)
            {
                health.Ejections = 0; // a long good spell forgives earlier ejections
            }

            health.Ejections++;
            health.EjectedUntil = now + PassiveHealthTracker.EjectionTime(health.Ejections, passive);
            health.Passive.Reset();
        }
    }

    // The snapshot, and the pin generations it bumped persisted. Bumps are rare (a backend becoming unusable), so this
    // is almost never a write; a failed write is retried with the next snapshot and the generation holds meanwhile.
    private async Task<PoolSnapshot> SnapshotAsync()
    {
        var snapshot = BuildSnapshot();
        if (_generationUnsaved)
        {
            try
            {
                await state.WriteStateAsync(CancellationToken.None);
                _generationUnsaved = false;
            }
            catch (Exception ex)
            {
                LogGenerationNotSaved(logger, this.GetPrimaryKeyString(), ex);
            }
        }

        return snapshot;
    }

    private PoolSnapshot BuildSnapshot()
    {
        var now = time.GetUtcNow();
        List<string>? expired = null;
        foreach (var (gatewayId, lease) in _leases)
        {
            if (lease.ExpiresAt <= now)
            {
                (expired ??= []).Add(gatewayId);
            }
        }

        expired?.ForEach(id => _leases.Remove(id));

        var verdicts = new (BackendRecord Backend, BackendHealth Health, BackendHealthState State)[state.State.Backends.Count];
        var healthyActive = 0;
        for (var i = 0; i < verdicts.Length; i++)
        {
            var backend = state.State.Backends[i];
            var health = HealthOf(backend.Id);
            if (health.EjectedUntil <= now)
            {
                (health.EjectedUntil, health.LastEjectionEnded, health.UsableSince) = (null, now, now);
            }

            var verdict = !health.ProbeHealthy ? BackendHealth.Unhealthy : health.EjectedUntil is not null ? BackendHealth.Ejected : BackendHealth.Healthy;
            verdicts[i] = (backend, verdict, health);
            if (verdict == BackendHealth.Healthy && backend.State == BackendState.Active)
            {
                healthyActive++;
            }
        }

        // Panic (as YARP's HealthyOrPanic, Envoy's panic threshold): with no healthy backend, all take traffic.
        var panic = healthyActive == 0 && state.State.Backends.Exists(b => b.State == BackendState.Active);
        var settings = Settings;
        var backends = ImmutableArray.CreateBuilder<BackendSnapshot>(verdicts.Length);
        foreach (var (backend, verdict, health) in verdicts)
        {
            var inFlight = 0;
            foreach (var lease in _leases.Values)
            {
                inFlight += lease.InFlight.GetValueOrDefault(backend.Id);
            }

            var serves = verdict == BackendHealth.Healthy || panic;
            var drainedOut = backend.State == BackendState.Draining && backend.DrainDeadline <= now;
            var keepsSessions = serves && !drainedOut;
            if (health.KeptSessions && !keepsSessions)
            {
                // From now on gateways may move this backend's sessions: every cached pin to it must be re-checked.
                backend.PinGeneration++;
                _generationUnsaved = true;
            }

            health.KeptSessions = keepsSessions;
            var usableSince = health.UsableSince > backend.AddedAt ? health.UsableSince : backend.AddedAt;
            backends.Add(new BackendSnapshot(
                backend.Id,
                backend.Address,
                backend.Weight,
                backend.State,
                inFlight,
                verdict,
                backend.Weight * SlowStart.Factor(usableSince, now, settings.SlowStart),
                backend.MaxInFlight,
                AcceptsNewSessions: serves && backend.State == BackendState.Active,
                KeepsSessions: keepsSessions,
                backend.DrainDeadline,
                health.Passive.Rate(now, settings.Passive.Window),
                backend.PinGeneration));
        }

        while (_unpinned.TryPeek(out var oldest) && oldest.Until <= now)
        {
            _unpinned.Dequeue();
        }

        return new PoolSnapshot(
            this.GetPrimaryKeyString(),
            state.State.RegistryVersion,
            backends.MoveToImmutable(),
            _leases.Count,
            now,
            panic,
            [.. _unpinned.Select(u => u.Key)],
            [.. _leases.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => new GatewayStatus(l.Key, l.Value.LastReport, l.Value.Degraded))]);
    }

    private BackendRecord? Find(string backendId) => state.State.Backends.Find(b => b.Id == backendId);

    private BackendHealthState HealthOf(string backendId)
    {
        if (!_health.TryGetValue(backendId, out var health))
        {
            health = new BackendHealthState();
            _health.Add(backendId, health);
        }

        return health;
    }

    private string ProbeKey(string backendId) => $"{this.GetPrimaryKeyString()}/{backendId}";

    private sealed class GatewayLease
    {
        public DateTimeOffset ExpiresAt { get; set; }

        public DateTimeOffset LastReport { get; set; }

        public bool Degraded { get; set; }

        public Dictionary<string, int> InFlight { get; } = new(StringComparer.Ordinal);
    }

    // Health is not persisted: after a move to another silo, probes and reports rebuild it within seconds, and a
    // backend is presumed healthy meanwhile (as every balancer does at start).
    private sealed class BackendHealthState
    {
        public bool ProbeHealthy { get; set; } = true;

        public PassiveHealthTracker Passive { get; } = new();

        public DateTimeOffset? EjectedUntil { get; set; }

        public int Ejections { get; set; }

        public DateTimeOffset LastEjectionEnded { get; set; }

        public DateTimeOffset UsableSince { get; set; }

        // Whether the previous snapshot let the backend keep its sessions (a change to false bumps the pin generation).
        public bool KeptSessions { get; set; } = true;
    }

    [LoggerMessage(EventId = 5101, Level = LogLevel.Warning, Message = "Pool {Pool}: a changed pin generation could not be persisted yet; retrying with the next snapshot.")]
    private static partial void LogGenerationNotSaved(ILogger logger, string pool, Exception exception);
}
