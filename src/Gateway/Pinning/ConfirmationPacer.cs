using System.Threading.RateLimiting;
using Distributed.Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Pinning;

/// <summary>
/// Paces this gateway's routine confirmations of cached pins: at most <see cref="PerSecond"/>, taken in tenths of a
/// second. Pins come due spread over a quarter of the confirmation interval, but a gateway that was idle while they
/// came due (traffic moved elsewhere and back, a benchmark's interleaved rounds) meets them all with its first
/// requests: 10,000 confirmations in one second took 2.4 s of silo CPU and stalled every request on a two-core host for
/// 0.7 s (docs/benchmarks.md). A confirmation past the pace is not made now; the session's next request tries again,
/// and the request itself never waits for one either way. Confirmations that reconcile a guess, write a new session's
/// pin or record a backend's generation are never paced.
/// </summary>
internal sealed class ConfirmationPacer : IDisposable
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);
    private readonly TokenBucketRateLimiter _limiter;

    public ConfirmationPacer(IOptions<BalancerOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        PerSecond = options.Value.PinCache.ConfirmationPace(options.Value.Pools.Count);
        var perTick = Math.Max(1, (int)Math.Ceiling(PerSecond * Tick.TotalSeconds));
        _limiter = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = perTick,
            TokensPerPeriod = perTick,
            ReplenishmentPeriod = Tick,
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    /// <summary>Routine confirmations this gateway makes per second at most.</summary>
    public int PerSecond { get; }

    /// <summary>Takes one confirmation from the pace; false when this tenth of a second's share is spent.</summary>
    public bool TryTake()
    {
        using var lease = _limiter.AttemptAcquire();
        return lease.IsAcquired;
    }

    public void Dispose() => _limiter.Dispose();
}
