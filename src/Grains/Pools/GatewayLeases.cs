using System.Collections.Immutable;
using Distributed.Grains.Abstractions;

namespace Distributed.Grains.Pools;

/// <summary>
/// Every gateway's last load report under a lease: a gateway that stops reporting (crashed, cut off) stops counting
/// once its lease runs out. Plain logic on explicit time; a lease past its end counts for nothing even before
/// <see cref="Expire"/> drops it.
/// </summary>
public sealed class GatewayLeases
{
    private readonly Dictionary<string, Lease> _leases = new(StringComparer.Ordinal);

    /// <summary>Replaces the reporting gateway's previous figures.</summary>
    public void Record(LoadReport report, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (!_leases.TryGetValue(report.GatewayId, out var lease))
        {
            lease = new Lease();
            _leases.Add(report.GatewayId, lease);
        }

        (lease.ExpiresAt, lease.LastReport, lease.Degraded) = (now + report.Lease, now, report.Degraded);
        lease.InFlight.Clear();
        foreach (var load in report.Backends)
        {
            if (load.InFlight > 0)
            {
                lease.InFlight[load.BackendId] = load.InFlight;
            }
        }
    }

    /// <summary>Drops one gateway's lease at once (it is shutting down); unknown gateways are ignored.</summary>
    public void Remove(string gatewayId) => _leases.Remove(gatewayId);

    /// <summary>Drops the leases that ran out.</summary>
    public void Expire(DateTimeOffset now)
    {
        foreach (var gateway in _leases.Where(l => l.Value.ExpiresAt <= now).Select(l => l.Key).ToList())
        {
            _leases.Remove(gateway);
        }
    }

    /// <summary>Requests in flight per backend, summed over the live leases.</summary>
    public Dictionary<string, int> InFlight(DateTimeOffset now)
    {
        var sums = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var lease in Live(now))
        {
            foreach (var (backend, inFlight) in lease.Value.InFlight)
            {
                sums[backend] = sums.GetValueOrDefault(backend) + inFlight;
            }
        }

        return sums;
    }

    /// <summary>The gateways with a live lease, by id.</summary>
    public ImmutableArray<GatewayStatus> Gateways(DateTimeOffset now) =>
        [.. Live(now).OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => new GatewayStatus(l.Key, l.Value.LastReport, l.Value.Degraded))];

    private IEnumerable<KeyValuePair<string, Lease>> Live(DateTimeOffset now) => _leases.Where(l => l.Value.ExpiresAt > now);

    private sealed class Lease
    {
        public DateTimeOffset ExpiresAt { get; set; }

        public DateTimeOffset LastReport { get; set; }

        public bool Degraded { get; set; }

        public Dictionary<string, int> InFlight { get; } = new(StringComparer.Ordinal);
    }
}
