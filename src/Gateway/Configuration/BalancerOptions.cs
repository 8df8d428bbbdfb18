namespace Distributed.Gateway.Configuration;

/// <summary>The <c>Balancer</c> configuration section: pools, routes and the gateway's own behaviour.</summary>
public sealed class BalancerOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Balancer";

    /// <summary>
    /// Identifies this gateway in load reports; must be unique per running process.
    /// <value>Default: machine name, process id and a random suffix.</value>
    /// </summary>
    public string? GatewayId { get; set; }

    /// <summary>How often the gateway reports its in-flight counts and refreshes its snapshot. <value>Default: 200 ms.</value></summary>
    public TimeSpan ReportInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// How long one report counts at the tracker; a gateway that stops reporting drops out after it.
    /// <value>Default: 5 × <see cref="ReportInterval"/>, at least 1 s.</value>
    /// </summary>
    public TimeSpan? ReportLease { get; set; }

    /// <summary>
    /// Longest a request waits for the cluster, in total (session grain calls, re-pins and a view refresh together).
    /// Past it the request is routed by the gateway's guess of the pin (where placement puts the session, which any
    /// gateway computes alike; the cookie's backend for cookie pools) and the grain's answer is taken in the background:
    /// a different answer moves the session once. <value>Default: 250 ms.</value>
    /// </summary>
    public TimeSpan ClusterWaitBudget { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Longest wait for one cluster call made in the background: a load report, a pin confirmation, a pin written
    /// behind a response, or the grain's answer to a request that went past <see cref="ClusterWaitBudget"/>. Bounds what
    /// Orleans would otherwise wait (its 30 s response timeout) for a silo that died. <value>Default: 2 s.</value>
    /// </summary>
    public TimeSpan ClusterCallTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Adds a <c>Server-Timing: route;dur=…;desc=…</c> header to every proxied response: how long the routing decision
    /// took (including any wait for the cluster) and how it was made. For diagnosis and tests; it tells clients how
    /// their session was routed. <value>Default: false.</value>
    /// </summary>
    public bool ServerTiming { get; set; }

    /// <summary>Longest session key accepted, in characters. <value>Default: 128.</value></summary>
    public int MaxSessionKeyLength { get; set; } = 128;

    /// <summary>Session cookie settings.</summary>
    public SessionCookieOptions Cookies { get; set; } = new();

    /// <summary>The per-client budget of new sessions.</summary>
    public NewSessionOptions NewSessions { get; set; } = new();

    /// <summary>Gateway-local pin cache.</summary>
    public PinCacheOptions PinCache { get; set; } = new();

    /// <summary>The in-memory history the management API serves and the status page draws.</summary>
    public HistoryOptions History { get; set; } = new();

    /// <summary>Pools by name.</summary>
    public Dictionary<string, PoolOptions> Pools { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Routes by name. <value>Default: with exactly one pool and no routes, every path goes to that pool.</value></summary>
    public Dictionary<string, RouteOptions> Routes { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The effective lease of a load report.</summary>
    public TimeSpan EffectiveReportLease => ReportLease ?? TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(1).Ticks, ReportInterval.Ticks * 5));
}
