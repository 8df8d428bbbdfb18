namespace Distributed.Gateway.Configuration;

/// <summary>Active health checks of a pool (HAProxy-like defaults).</summary>
public sealed class HealthCheckOptions
{
    /// <summary>Whether backends are probed. <value>Default: true.</value></summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Path probed with GET. <value>Default: <c>/healthz</c>.</value></summary>
    public string Path { get; set; } = "/healthz";

    /// <summary>Time between probes. <value>Default: 2 s.</value></summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>A slower probe fails. <value>Default: 1 s.</value></summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Passes in a row that make a backend healthy. <value>Default: 2.</value></summary>
    public int Rise { get; set; } = 2;

    /// <summary>Failures in a row that make a backend unhealthy. <value>Default: 3.</value></summary>
    public int Fall { get; set; } = 3;

    /// <summary>
    /// A backend added through the admin API takes no sessions until its first Rise probes pass (Envoy's
    /// <c>ignore_new_hosts_until_first_hc</c>); otherwise it is presumed healthy until a verdict says otherwise.
    /// <value>Default: false.</value>
    /// </summary>
    public bool WaitForFirstPass { get; set; }
}
