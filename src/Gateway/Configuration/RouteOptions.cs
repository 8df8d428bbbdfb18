namespace Distributed.Gateway.Configuration;

/// <summary>Which requests go to which pool.</summary>
public sealed class RouteOptions
{
    /// <summary>Target pool name.</summary>
    public string Pool { get; set; } = "";

    /// <summary>ASP.NET Core route template. <value>Default: <c>/{**catch-all}</c>.</value></summary>
    public string? Path { get; set; }

    /// <summary>Host names to match; empty matches any host.</summary>
    public List<string> Hosts { get; set; } = [];

    /// <summary>Lower values are matched first. <value>Default: 0.</value></summary>
    public int Order { get; set; }
}
