namespace Distributed.Gateway.Configuration;

/// <summary>
/// The management API's short in-memory history of every pool (<c>Balancer:History</c>), drawn by the status page:
/// one point per second from figures the gateway already keeps. Nothing on the request path.
/// </summary>
public sealed class HistoryOptions
{
    /// <summary>Whether the gateway keeps the history. <value>Default: true.</value></summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// How far back the history reaches (one point per second), between 1 minute and 1 hour. A point costs about
    /// 60 bytes per pool plus 20 per backend: 15 minutes of a pool of 10 backends is about 250 KB.
    /// <value>Default: 15 minutes.</value>
    /// </summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// How often the sessions pinned to each backend are counted, between 1 second and 1 minute. Each count is one
    /// grain call per backend from this gateway, and the grain walks the backend's session list to drop lapsed ones,
    /// so with many gateways and a million sessions a short interval is felt by the silos. <value>Default: 5 s.</value>
    /// </summary>
    public TimeSpan SessionsInterval { get; set; } = TimeSpan.FromSeconds(5);
}
