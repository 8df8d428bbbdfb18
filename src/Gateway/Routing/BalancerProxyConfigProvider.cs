using System.Net;
using Distributed.Gateway.Configuration;
using Distributed.Gateway.Pools;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace Distributed.Gateway.Routing;

/// <summary>
/// YARP configuration built from the balancer's routes and each pool's registry (one YARP cluster per pool, one
/// destination per backend). It is rebuilt whenever a snapshot brings a new registry version, so backends added or
/// removed in the cluster become YARP destinations on every gateway.
/// </summary>
internal sealed class BalancerProxyConfigProvider : IProxyConfigProvider, IDisposable
{
    private readonly PoolRegistry _pools;
    private readonly IReadOnlyList<RouteConfig> _routes;
    private readonly Lock _gate = new();
    private BalancerProxyConfig _config;

    public BalancerProxyConfigProvider(PoolRegistry pools, IOptions<BalancerOptions> options)
    {
        _pools = pools;
        _routes = BuildRoutes(options.Value);
        _config = new BalancerProxyConfig(_routes, BuildClusters());
        foreach (var pool in pools.All)
        {
            pool.RegistryChanged += OnRegistryChanged;
        }
    }

    public IProxyConfig GetConfig() => Volatile.Read(ref _config);

    public void Dispose()
    {
        foreach (var pool in _pools.All)
        {
            pool.RegistryChanged -= OnRegistryChanged;
        }
    }

    private void OnRegistryChanged(PoolRuntime pool)
    {
        BalancerProxyConfig previous;
        lock (_gate)
        {
            previous = _config;
            Volatile.Write(ref _config, new BalancerProxyConfig(_routes, BuildClusters()));
        }

        previous.SignalChange();
    }

    private List<ClusterConfig> BuildClusters() => [.. _pools.All.Select(pool => new ClusterConfig
    {
        ClusterId = pool.Name,
        Destinations = pool.View.Backends.ToDictionary(
            b => b.Id,
            b => new DestinationConfig { Address = b.Backend.Address },
            StringComparer.Ordinal),
        HttpRequest = pool.Options.BackendProtocol switch
        {
            BackendProtocol.Http1 => new ForwarderRequestConfig { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionExact },
            BackendProtocol.Http2 => new ForwarderRequestConfig { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact },
            _ => null,
        },
    })];

    private static List<RouteConfig> BuildRoutes(BalancerOptions options)
    {
        if (options.Routes.Count == 0 && options.Pools.Count == 1)
        {
            return [new RouteConfig { RouteId = "default", ClusterId = options.Pools.Keys.Single(), Match = new RouteMatch { Path = "/{**catch-all}" } }];
        }

        return [.. options.Routes.Select(r => new RouteConfig
        {
            RouteId = r.Key,
            ClusterId = r.Value.Pool,
            Order = r.Value.Order,
            Match = new RouteMatch
            {
                Path = string.IsNullOrWhiteSpace(r.Value.Path) ? "/{**catch-all}" : r.Value.Path,
                Hosts = r.Value.Hosts.Count == 0 ? null : r.Value.Hosts,
            },
        })];
    }

    // The token source is never disposed: YARP may still hold the change token of a replaced config, as with YARP's
    // own InMemoryConfigProvider; it owns no unmanaged resources while no timer is set.
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "See comment above.")]
    private sealed class BalancerProxyConfig(IReadOnlyList<RouteConfig> routes, IReadOnlyList<ClusterConfig> clusters) : IProxyConfig
    {
        private readonly CancellationTokenSource _changed = new();

        public IReadOnlyList<RouteConfig> Routes { get; } = routes;

        public IReadOnlyList<ClusterConfig> Clusters { get; } = clusters;

        public IChangeToken ChangeToken => new CancellationChangeToken(_changed.Token);

        public void SignalChange() => _changed.Cancel();
    }
}
