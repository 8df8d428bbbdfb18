using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace Distributed.Gateway.Hardening;

/// <summary>
/// The proxies whose forwarded headers are believed (<c>Balancer:ForwardedHeaders</c>); checked by
/// <see cref="TrustedProxiesOptionsValidator"/>.
/// </summary>
public sealed class TrustedProxiesOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Balancer:ForwardedHeaders";

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

    /// <summary>Reads one of <see cref="KnownProxies"/>: an IP address, not a network.</summary>
    public static bool TryParseProxy(string proxy, [NotNullWhen(true)] out IPAddress? address)
    {
        ArgumentNullException.ThrowIfNull(proxy);
        address = null;
        return !proxy.Contains('/', StringComparison.Ordinal) && IPAddress.TryParse(proxy, out address);
    }

    /// <summary>
    /// Reads one of <see cref="KnownNetworks"/>. <see cref="IPNetwork.TryParse(string, out IPNetwork)"/> accepts an
    /// address with host bits set (<c>10.0.0.1/8</c>); such a network is refused rather than guessed at, since the
    /// operator may have meant one proxy or another network.
    /// </summary>
    public static bool TryParseNetwork(string network, out IPNetwork parsed)
    {
        ArgumentNullException.ThrowIfNull(network);
        var slash = network.IndexOf('/', StringComparison.Ordinal);
        return IPNetwork.TryParse(network, out parsed) && slash > 0
            && IPAddress.TryParse(network.AsSpan(0, slash), out var written) && written.Equals(parsed.BaseAddress);
    }
}
