namespace Distributed.Gateway.Configuration;

/// <summary>The gateway's bounded cache of pins, so steady-state requests need no grain call.</summary>
public sealed class PinCacheOptions
{
    /// <summary>Most pins cached per pool. <value>Default: 100,000.</value></summary>
    public int MaxEntries { get; set; } = 100_000;

    /// <summary>
    /// How long a cached pin is used before it is confirmed with its session grain again (in the background; the
    /// request does not wait), which extends the session's idle expiry cluster-wide. Pins moved by other gateways do
    /// not wait for it: they reach the cache through the pool snapshot (pin generations, admin unpins). A session idle
    /// after its last request lapses between <c>SessionTtl − ConfirmInterval</c> and <c>SessionTtl</c> after it.
    /// Each confirmation is one grain call (and, for a grain no longer in memory, one storage read and write), so this
    /// sets the steady-state load on the cluster: sessions in use / interval. Must be shorter than every pool's
    /// SessionTtl. <value>Default: 5 minutes.</value>
    /// </summary>
    public TimeSpan ConfirmInterval { get; set; } = TimeSpan.FromMinutes(5);
}
