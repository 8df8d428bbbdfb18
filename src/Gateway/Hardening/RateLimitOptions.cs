namespace Distributed.Gateway.Hardening;

/// <summary>
/// Per-client rate limiting on the public listener (<c>Balancer:RateLimit</c>); checked by
/// <see cref="RateLimitOptionsValidator"/>. Clients are told apart by IP address, after trusted forwarded headers
/// (<see cref="TrustedProxiesOptions"/>).
/// </summary>
public sealed class RateLimitOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Balancer:RateLimit";

    /// <summary>Requests per second one client IP may send to one gateway; 0 disables. <value>Default: 0.</value></summary>
    public int PermitsPerSecond { get; set; }

    /// <summary>Burst above the steady rate. <value>Default: 2 × PermitsPerSecond.</value></summary>
    public int? Burst { get; set; }

    /// <summary>Whether requests are limited at all.</summary>
    public bool Enabled => PermitsPerSecond > 0;
}
