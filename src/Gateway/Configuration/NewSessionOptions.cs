namespace Distributed.Gateway.Configuration;

/// <summary>
/// How many new sessions one client (IP address, after trusted forwarded headers) may start: a token bucket for the
/// whole cluster, each gateway enforcing its share (the budget divided by the gateways with a live lease). Past it a
/// new session is routed as a keyless request (by the pool's policy, no pin written, no cookie issued); a known session is
/// never refused.
/// </summary>
public sealed class NewSessionOptions
{
    /// <summary>
    /// New sessions per second per client, cluster-wide; 0 turns the budget off. Clients behind one NAT share it: raise
    /// it where many users arrive from one address. <value>Default: 20.</value>
    /// </summary>
    public double PerClientPerSecond { get; set; } = 20;

    /// <summary>New sessions a client may start at once, cluster-wide. <value>Default: 200.</value></summary>
    public int PerClientBurst { get; set; } = 200;
}
