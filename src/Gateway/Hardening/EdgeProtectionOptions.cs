namespace Distributed.Gateway.Hardening;

/// <summary>Per-client rate limiting and trusted proxies (<c>Balancer:RateLimit</c>, <c>Balancer:ForwardedHeaders</c>).</summary>
public sealed class EdgeProtectionOptions
{
    /// <summary>Requests per second one client IP may send to one gateway; 0 disables. <value>Default: 0.</value></summary>
    public int PermitsPerSecond { get; set; }

    /// <summary>Burst above the steady rate. <value>Default: 2 × PermitsPerSecond.</value></summary>
    public int? Burst { get; set; }

    /// <summary>
    /// Proxies (IP addresses) whose <c>X-Forwarded-For</c>/<c>-Proto</c> headers are believed; from anyone else they are
    /// ignored, so a client cannot choose its own client IP (which keys <c>ClientIp</c> sessions and the rate limit).
    /// <value>Default: none.</value>
    /// </summary>
    public List<string> KnownProxies { get; set; } = [];
}
