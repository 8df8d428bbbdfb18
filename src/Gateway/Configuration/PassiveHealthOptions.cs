namespace Distributed.Gateway.Configuration;

/// <summary>Passive health of a pool (Envoy-like outlier detection defaults).</summary>
public sealed class PassiveHealthOptions
{
    /// <summary>Failures in a row, across all gateways, that eject a backend; 0 disables. <value>Default: 5.</value></summary>
    public int ConsecutiveFailures { get; set; } = 5;

    /// <summary>Failed share of requests in the window that ejects (0–1); 0 disables. <value>Default: 0.5.</value></summary>
    public double FailureRate { get; set; } = 0.5;

    /// <summary>Requests in the window before the failure rate counts. <value>Default: 20.</value></summary>
    public int MinimumRequests { get; set; } = 20;

    /// <summary>Failure-rate window. <value>Default: 10 s.</value></summary>
    public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>First ejection's length, doubling on repeats. <value>Default: 30 s.</value></summary>
    public TimeSpan EjectionTime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest ejection. <value>Default: 5 minutes.</value></summary>
    public TimeSpan MaxEjectionTime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Most of the pool ejected at once, in percent (at least one backend). <value>Default: 50.</value></summary>
    public int MaxEjectedPercent { get; set; } = 50;
}
