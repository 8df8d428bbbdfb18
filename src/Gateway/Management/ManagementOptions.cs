namespace Distributed.Gateway.Management;

/// <summary>
/// The management listener (<c>Balancer:Admin</c>): health, metrics, the admin API and the status page, on their own
/// port so they never shadow a proxied path and can be firewalled apart from client traffic. Checked by
/// <see cref="ManagementOptionsValidator"/>, before the host is built too (the listener's URL is needed then).
/// </summary>
public sealed class ManagementOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Balancer:Admin";

    /// <summary>URL of the management listener. <value>Default: <c>http://127.0.0.1:8081</c>.</value></summary>
    public string Url { get; set; } = "http://127.0.0.1:8081";

    /// <summary>
    /// Bearer API key for the admin API; required when <see cref="Url"/> is not a loopback address. At least 128 bits
    /// (32 hexadecimal or 22 base64 characters), and never a manifest's placeholder.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>The listener's port (of a validated <see cref="Url"/>).</summary>
    public int Port => new Uri(Url).Port;
}
