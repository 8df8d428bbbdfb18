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
    /// ignored, so a client cannot choose its own client IP (which keys <c>ClientIp</c> sessions and the rate limit) or
    /// make its session cookie <c>Secure</c>. <value>Default: none.</value>
    /// </summary>
    public List<string> KnownProxies { get; set; } = [];

    /// <summary>
    /// Networks (CIDR, e.g. <c>10.0.0.0/8</c>) of such proxies, for proxies whose addresses change (Kubernetes ingress
    /// pods, cloud load balancers). <value>Default: none.</value>
    /// </summary>
    public List<string> KnownNetworks { get; set; } = [];

    /// <summary>Whether any proxy is trusted; with none, forwarded headers are not processed at all.</summary>
    public bool TrustsProxies => KnownProxies.Count > 0 || KnownNetworks.Count > 0;
}
