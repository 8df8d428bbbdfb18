namespace Distributed.Gateway.Configuration;

/// <summary>The gateway's bounded cache of pins, so steady-state requests need no grain call.</summary>
public sealed class PinCacheOptions
{
    /// <summary>Most pins cached per pool. <value>Default: 100,000.</value></summary>
    public int MaxEntries { get; set; } = 100_000;

    /// <summary>
    /// The longest a cached pin is used before it is confirmed with its session grain again (in the background; the
    /// request does not wait), which extends the session's idle expiry cluster-wide. Each pin comes due at an age
    /// between three quarters of this interval and all of it, fixed by its key, so pins cached at one moment are not
    /// all confirmed at one moment. Pins moved by other gateways do not wait for it: they reach the cache through the
    /// pool snapshot (pin generations, admin unpins). A session idle after its last request lapses between
    /// <c>SessionTtl − ConfirmInterval</c> and <c>SessionTtl</c> after it. Each confirmation is one grain call (and, for
    /// a grain no longer in memory, one storage read and write), so this sets the steady-state load on the cluster:
    /// about sessions in use / (0.875 × interval). Must be shorter than every pool's SessionTtl.
    /// <value>Default: 5 minutes.</value>
    /// </summary>
    public TimeSpan ConfirmInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The most routine confirmations (pins that came due) this gateway makes per second; past it a confirmation waits
    /// for the session's next request, so a gateway that meets many due pins at once (after an idle spell) spreads them
    /// instead of taking the cores from its requests. 0: twice what every pool's cache, full of sessions in use, needs
    /// (pools × MaxEntries / (0.75 × ConfirmInterval); 889 a second at the defaults with one pool). A value below that
    /// need is refused at start-up: sessions in use could lapse. <value>Default: 0.</value>
    /// </summary>
    public int MaxConfirmationsPerSecond { get; set; }

    /// <summary>
    /// Confirmations per second that <paramref name="pools"/> caches full of sessions in use need: each pin once per
    /// three quarters of the confirmation interval at most. A slower pace would let sessions in use lapse at their grains.
    /// </summary>
    public int ConfirmationsNeeded(int pools) =>
        (int)Math.Ceiling(Math.Max(1, pools) * (double)MaxEntries / (0.75 * ConfirmInterval.TotalSeconds));

    /// <summary>The configured <see cref="MaxConfirmationsPerSecond"/>, or twice what <paramref name="pools"/> caches need.</summary>
    public int ConfirmationPace(int pools) => MaxConfirmationsPerSecond > 0 ? MaxConfirmationsPerSecond : 2 * ConfirmationsNeeded(pools);
}
