using System.Collections.Immutable;
using Distributed.Grains.Abstractions;

namespace Distributed.Grains.Pools;

/// <summary>
/// Backend tracker of one pool. Each gateway reports its own in-flight counts every few hundred milliseconds under a
/// lease; the snapshot sums the live leases, so a gateway that dies stops counting once its lease runs out. Calls per
/// second are gateways / report interval, independent of the request rate.
/// </summary>
public sealed class PoolGrain(
    [PersistentState("pool", StorageNames.Pools)] IPersistentState<PoolState> state,
    [FromKeyedServices(BalancerTime.ServiceKey)] TimeProvider time) : Grain, IPoolGrain
{
    private readonly Dictionary<string, GatewayLease> _leases = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public async Task<PoolSnapshot> InitializeAsync(ImmutableArray<BackendSpec> seed, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!state.State.Initialized)
        {
            state.State.Backends = [.. seed
                .OrderBy(b => b.Id, StringComparer.Ordinal)
                .Select(b => new BackendRecord { Id = b.Id, Address = b.Address, Weight = b.Weight, State = BackendState.Active })];
            state.State.Initialized = true;
            state.State.RegistryVersion++;
            await state.WriteStateAsync(CancellationToken.None);
        }

        return BuildSnapshot();
    }

    /// <inheritdoc />
    public Task<PoolSnapshot> ReportAsync(LoadReport report, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ArgumentNullException.ThrowIfNull(report);
        ArgumentException.ThrowIfNullOrWhiteSpace(report.GatewayId);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(report.Lease, TimeSpan.Zero);

        if (!_leases.TryGetValue(report.GatewayId, out var lease))
        {
            lease = new GatewayLease();
            _leases.Add(report.GatewayId, lease);
        }

        lease.ExpiresAt = time.GetUtcNow() + report.Lease;
        lease.InFlight.Clear();
        foreach (var load in report.Backends)
        {
            if (load.InFlight > 0)
            {
                lease.InFlight[load.BackendId] = load.InFlight;
            }
        }

        return Task.FromResult(BuildSnapshot());
    }

    /// <inheritdoc />
    public Task<PoolSnapshot> GetSnapshotAsync() => Task.FromResult(BuildSnapshot());

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

        var backends = ImmutableArray.CreateBuilder<BackendSnapshot>(state.State.Backends.Count);
        foreach (var backend in state.State.Backends)
        {
            var inFlight = 0;
            foreach (var lease in _leases.Values)
            {
                inFlight += lease.InFlight.GetValueOrDefault(backend.Id);
            }

            backends.Add(new BackendSnapshot(backend.Id, backend.Address, backend.Weight, backend.State, inFlight));
        }

        return new PoolSnapshot(this.GetPrimaryKeyString(), state.State.RegistryVersion, backends.MoveToImmutable(), _leases.Count, now);
    }

    private sealed class GatewayLease
    {
        public DateTimeOffset ExpiresAt { get; set; }

        public Dictionary<string, int> InFlight { get; } = new(StringComparer.Ordinal);
    }
}
