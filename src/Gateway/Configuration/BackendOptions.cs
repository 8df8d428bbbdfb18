namespace Distributed.Gateway.Configuration;

/// <summary>One backend of a pool.</summary>
public sealed class BackendOptions
{
    /// <summary>Absolute http(s) base address, e.g. <c>http://10.0.0.5:8080/</c>.</summary>
    public string Address { get; set; } = "";

    /// <summary>Relative capacity, 1–1000. <value>Default: 1.</value></summary>
    public int Weight { get; set; } = 1;

    /// <summary>Most requests in flight to this backend across all gateways; 0 for no limit. <value>Default: 0.</value></summary>
    public int MaxInFlight { get; set; }
}
