namespace Distributed.Silo;

/// <summary>
/// The Orleans dashboard's access (<c>Orleans:Dashboard</c>); checked by <see cref="SiloDashboardOptionsValidator"/>.
/// Open on loopback; on any other address it is served only with a <see cref="Password"/>.
/// </summary>
public sealed class SiloDashboardOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Orleans:Dashboard";

    /// <summary>
    /// HTTP Basic password (any user name). A secret of its own, shared with nothing else: at least 128 bits and never a
    /// manifest's placeholder. <value>Default: none (the dashboard is served on loopback only).</value>
    /// </summary>
    public string? Password { get; set; }
}
