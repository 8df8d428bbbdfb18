using System.Net;
using System.Threading.RateLimiting;
using Distributed.Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Pinning;

/// <summary>
/// The per-client budget of new sessions (<see cref="NewSessionOptions"/>): a token bucket per client IP address,
/// the cluster-wide budget leased evenly to the live gateways as load is (each enforces budget / live gateways), so a
/// client cannot mint sessions, each a grain activation, a store write and a pin-cache entry, faster than the budget by
/// spreading over gateways. Idle buckets are dropped by the rate limiter itself.
/// </summary>
internal sealed class NewSessionBudget : IDisposable
{
    private readonly NewSessionOptions _options;
    private readonly PartitionedRateLimiter<(IPAddress Client, int Gateways)>? _limiter;

    public NewSessionBudget(IOptions<BalancerOptions> options)
    {
        _options = options.Value.NewSessions;
        if (_options.PerClientPerSecond > 0)
        {
            _limiter = PartitionedRateLimiter.Create<(IPAddress Client, int Gateways), (IPAddress, int)>(key => RateLimitPartition.GetTokenBucketLimiter(key, Share));
        }
    }

    /// <summary>Takes one new session from <paramref name="client"/>'s budget; false when it is spent.</summary>
    /// <param name="client">The client's address; requests without one are not budgeted.</param>
    /// <param name="liveGateways">Gateways with a live lease, this one included (from the pool snapshot).</param>
    public bool TryTake(IPAddress? client, int liveGateways)
    {
        if (_limiter is null || client is null)
        {
            return true;
        }

        using var lease = _limiter.AttemptAcquire((client, Math.Max(1, liveGateways)));
        return lease.IsAcquired;
    }

    public void Dispose() => _limiter?.Dispose();

    // This gateway's share: one token every gateways / rate seconds, up to its share of the burst.
    private TokenBucketRateLimiterOptions Share((IPAddress Client, int Gateways) key) => new()
    {
        TokenLimit = Math.Max(1, _options.PerClientBurst / key.Gateways),
        TokensPerPeriod = 1,
        ReplenishmentPeriod = TimeSpan.FromSeconds(key.Gateways / _options.PerClientPerSecond),
        QueueLimit = 0,
        AutoReplenishment = true,
    };
}
