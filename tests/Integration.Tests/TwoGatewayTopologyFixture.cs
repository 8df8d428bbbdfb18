using Distributed.Topology;

namespace Distributed.Integration.Tests;

/// <summary>
/// Redis, 2 silos clustered through Redis, 2 gateways and 3 echo backends, all real processes on loopback.
/// Pool <c>web</c> (header <c>X-Session-Id</c>) serves every path; pool <c>cookie</c> (signed cookie) serves <c>/c/...</c>.
/// </summary>
public sealed class TwoGatewayTopologyFixture : TopologyFixture
{
    public const string CookieName = "dist_session";

    public TimeSpan ReportInterval { get; } = TimeSpan.FromMilliseconds(200);

    protected override TopologyOptions Options() => new()
    {
        Silos = 2,
        Gateways = 2,
        Backends = 3,
        ReportInterval = ReportInterval,
        Balancer = backends => TopologyOptions.AddRoutedPool(
            TopologyOptions.AddRoutedPool([], "cookie", $"Cookie:{CookieName}", backends, "/c/{**rest}", order: 0),
            "web",
            "Header:X-Session-Id",
            backends,
            "/{**rest}",
            order: 1),
    };
}
