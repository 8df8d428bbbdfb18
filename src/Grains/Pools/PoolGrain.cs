using System.Collections.Immutable;
using Distributed.Grains.Abstractions;
using Distributed.Grains.Health;
using Microsoft.Extensions.Logging;

namespace Distributed.Grains.Pools;

/// <summary>
/// Backend tracker of one pool; it orchestrates and stores, the parts decide: the catalog and its admin operations
/// (<see cref="BackendCatalog"/>), gateway leases and load (<see cref="GatewayLeases"/>), the health verdict
/// (<see cref="PoolHealth"/>), pin generations and unpin announcements (<see cref="PinGenerations"/>), and the recent
/// transitions for operators (<see cref="PoolEventHistory"/>).
/// </summary>
/// <remarks>
/// Reports, snapshots and probe verdicts are answered from memory and never wait for the store (they interleave with
/// everything). Time moves on with every report and on a one-second tick; a keeps-sessions change it brings is stored in
/// the background, retried with backoff while the store refuses, and reaches gateways once stored. Admin operations
/// run one at a time and store before they apply.
/// </remarks>
public sealed partial class PoolGrain(
    [PersistentState("pool", StorageNames.Pools)] IPersistentState<PoolState> state,
    [FromKeyedServices(BalancerTime.ServiceKey)] TimeProvider time,
    ILogger<PoolGrain> logger) : Grain, IPoolGrain
{
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);

    // How often keeps-sessions changes are looked for and stored: a change reaches gateways this much later at most.
    private static readonly TimeSpan PersistCheck = TimeSpan.FromMilliseconds(100);

    // How often probers are (re)started and their leases renewed: a prober lost with a silo is back within this, and
    // one no longer renewed (its backend removed while this grain moved and forgot it) stops after three of these.
    private static readonly TimeSpan ProberRefresh = TimeSpan.FromSeconds(5);

    private readonly GatewayLeases _leases = new();
    private readonly PoolHealth _health = new();
    private readonly PinGenerations _generations = new();
    private BackendCatalog _catalog = null!;
    private PoolEventHistory _events = null!;
    private PoolLog _log = null!;
    private PoolStore _store = null!;

    private string Name => this.GetPrimaryKeyString();

    private PoolSettings Settings => _catalog.Current.EffectiveSettings;

    /// <inheritdoc />
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _events = new PoolEventHistory(time.GetUtcNow());
        _log = new PoolLog(logger, Name, Record);
        _catalog = new BackendCatalog(state.State);
        _store = new PoolStore(state, _log);
        _health.Restore(state.State, time.GetUtcNow());

        // The tick and the probers interleave (nothing they do waits for the store); the background write does not, so
        // it never overlaps an admin operation's write. Orleans holds the timers until the activation ends.
        _ = this.RegisterGrainTimer(
            () =>
            {
                Advance(time.GetUtcNow());
                return Task.CompletedTask;
            },
            new GrainTimerCreationOptions(Tick, Tick) { Interleave = true, KeepAlive = true });
        _ = this.RegisterGrainTimer(() => EnsureProbersAsync(), new GrainTimerCreationOptions(ProberRefresh, ProberRefresh) { Interleave = true, KeepAlive = true });
        _ = this.RegisterGrainTimer(PersistKeepsSessionsAsync, new GrainTimerCreationOptions(PersistCheck, PersistCheck) { KeepAlive = true });
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task<PoolSnapshot> InitializeAsync(ImmutableArray<BackendSpec> seed, PoolSettings settings, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ArgumentNullException.ThrowIfNull(settings);
        var probing = Settings.Active.Enabled;
        await CommitAsync(now => _catalog.Seed(seed, settings, now));
        await EnsureProbersAsync(stopAll: probing && !Settings.Active.Enabled);
        return Snapshot(time.GetUtcNow());
    }

    /// <inheritdoc />
    public Task<PoolSnapshot> ReportAsync(LoadReport report, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ArgumentNullException.ThrowIfNull(report);
        ArgumentException.ThrowIfNullOrWhiteSpace(report.GatewayId);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(report.Lease, TimeSpan.Zero);

        var now = time.GetUtcNow();
        _leases.Record(report, now);
        foreach (var load in report.Backends)
        {
            if (load.Completed > 0 && _catalog.Current.Find(load.BackendId) is not null)
            {
                _health.RecordOutcomes(load.BackendId, load.Completed, load.Failed, now, Settings.Passive);
            }
        }

        Advance(now);
        return Task.FromResult(Snapshot(now));
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
    public Task<PoolSnapshot> GetSnapshotAsync() => Task.FromResult(Snapshot(time.GetUtcNow()));

    /// <inheritdoc />
    public Task<PoolEventPage> GetEventsAsync(long? after = null) => Task.FromResult(_events.After(after));

    /// <inheritdoc />
    public Task NotifyUnpinnedAsync(string sessionKey)
    {
        ArgumentException.ThrowIfNullOrEmpty(sessionKey);
        _generations.Unpinned(sessionKey, time.GetUtcNow());
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task ReportProbeAsync(string backendId, string address, bool healthy)
    {
        // A prober that has not heard of a change yet (probing off, backend removed or moved to another address) is
        // not believed.
        if (Settings.Active.Enabled && _catalog.Current.Find(backendId) is { } backend && backend.Address == address)
        {
            var now = time.GetUtcNow();
            _log.Raise(_health.RecordProbe(backendId, healthy, now));
            Advance(now);
        }

        return Task.CompletedTask;
    }

    // The catalog with every backend's keeps-sessions state as the health verdict says now; null when it already is.
    private PoolState? WithKeepsSessions(PoolState catalog, DateTimeOffset now)
    {
        var settings = catalog.EffectiveSettings;
        return PinGenerations.Apply(catalog, b => _health.KeepsSessions(b, settings, now), now);
    }

    // Moves the pool to `now`: leases, ejections, drains, panic. The keeps-sessions changes this brings are stored by
    // the background write.
    private void Advance(DateTimeOffset now)
    {
        _leases.Expire(now);
        _generations.Expire(now);
        _log.Raise(_health.Advance(_catalog.Current, now));
        _log.Raise(_catalog.DrainsFinished(now));
    }

    private PoolSnapshot Snapshot(DateTimeOffset now) => PoolSnapshotBuilder.Build(Name, _catalog.Current, _leases, _health, _generations, now);

    // The background write of keeps-sessions changes, retried with backoff while the store refuses.
    private async Task PersistKeepsSessionsAsync(CancellationToken cancellationToken)
    {
        if (_store.BackingOff() || WithKeepsSessions(_catalog.Current, time.GetUtcNow()) is null)
        {
            return;
        }

        try
        {
            await CommitAsync(now => new CatalogChange(AdminOutcome.Done, WithKeepsSessions(_catalog.Current, now)));
            _store.BackgroundWriteSucceeded(time.GetUtcNow());
        }
        catch (Exception ex)
        {
            _store.BackgroundWriteFailed(ex, PersistCheck, time.GetUtcNow());
        }
    }

    // One-way calls: the probers report back to this grain. A prober not renewed within its lease stops by itself;
    // when probing is turned off they are stopped at once and their verdicts forgotten.
    private async Task EnsureProbersAsync(bool stopAll = false)
    {
        var active = Settings.Active;
        if (stopAll)
        {
            _health.ForgetProbes();
        }

        foreach (var backend in active.Enabled || stopAll ? _catalog.Current.Backends : [])
        {
            var prober = GrainFactory.GetGrain<IBackendProbeGrain>(BackendKey(backend.Id));
            await (stopAll ? prober.StopAsync() : prober.EnsureProbingAsync(backend.Address, active, ProberRefresh * 3));
        }
    }

    // Every transition raised goes to the event history; for drains and for those that move sessions, the sessions
    // pinned to the backend are counted now, before they move, without holding up the turn that raised it.
    private void Record(PoolEvent transition)
    {
        var entry = _events.Record(transition, time.GetUtcNow());
        if (entry.Backend is not null && PoolEventHistory.CountsSessions(entry.Kind))
        {
            _ = CountSessionsAsync(entry);
        }
    }

    // Runs on this activation (continuations of a grain's own tasks do); the session list never calls back here.
    private async Task CountSessionsAsync(PoolEventRecord entry)
    {
        try
        {
            var sessions = await GrainFactory.GetGrain<IBackendSessionsGrain>(BackendKey(entry.Backend!)).ListAsync(null, 1);
            _events.CountedSessions(entry.Id, sessions.Total);
        }
        catch (Exception ex)
        {
            _log.SessionsNotCounted(entry.Kind, entry.Backend, ex);
        }
    }

    // The key of a backend's prober and of its session list.
    private string BackendKey(string backendId) => GrainKeys.Backend(Name, backendId);
}
