namespace Distributed.Gateway.Shutdown;

/// <summary>
/// The <c>Balancer:Shutdown</c> section: how a gateway leaves on SIGTERM. In-flight requests after the drain are bounded
/// by the host's own shutdown timeout (<see cref="HostOptions.ShutdownTimeout"/>, configuration key
/// <c>shutdownTimeoutSeconds</c>, default 30 s), which the drain period counts against.
/// </summary>
public sealed class ShutdownOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Balancer:Shutdown";

    /// <summary>
    /// How long the gateway keeps serving after SIGTERM with <c>/readyz</c> answering 503 and every response closing its
    /// connection, so DNS or load-balancer endpoints stop sending it new connections and keep-alive clients move off at a
    /// request boundary. Zero stops at once. <value>Default: 5 s.</value>
    /// </summary>
    public TimeSpan DrainPeriod { get; set; } = TimeSpan.FromSeconds(5);
}
