using Distributed.Gateway.Cluster;
using Distributed.Gateway.Configuration;
using Distributed.Gateway.Pinning;
using Distributed.Gateway.Pools;
using Distributed.Gateway.Routing;
using Distributed.Gateway.Telemetry;
using Distributed.Gateway.WebSockets;
using Distributed.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace Distributed.Gateway;

/// <summary>Registration of the gateway's features.</summary>
internal static class GatewayServiceCollectionExtensions
{
    /// <summary>Pools, session pinning and routing by cluster-wide load and pins, feeding YARP.</summary>
    public static IServiceCollection AddSessionBalancing(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<BalancerOptions, BalancerOptionsValidator>(configuration, BalancerOptions.SectionName);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(Random.Shared);
        services.AddSingleton<PoolRegistry>();
        services.AddSingleton<ClusterConnectivity>();
        services.AddSingleton<PoolViewRefresher>();
        services.AddSingleton<NewSessionBudget>();
        services.AddSingleton<ConfirmationPacer>();
        services.AddSingleton<SessionPinResolver>();
        services.AddSingleton<GatewayTelemetry>();
        services.AddHostedService<ClusterLoadReporter>();
        services.AddHostedService<PinHintWarmup>();
        services.TryAddSingleton<WebSocketRegistry>(); // also the shutdown's
        services.AddHostedService<WebSocketDrainCloser>();
        services.AddHealthChecks().AddCheck<ClusterSnapshotHealthCheck>("cluster-snapshot", tags: ["ready"]);
        services.AddSingleton<BalancerProxyConfigProvider>();
        services.AddSingleton<IProxyConfigProvider>(sp => sp.GetRequiredService<BalancerProxyConfigProvider>());
        services.AddReverseProxy();
        services.AddSingleton<IForwarderHttpClientFactory, BackendTlsHttpClientFactory>(); // replaces YARP's
        return services;
    }

    /// <summary>The proxy pipeline: our routing decision, then YARP's own forwarding.</summary>
    public static IEndpointRouteBuilder MapBalancedProxy(this IEndpointRouteBuilder endpoints)
    {
        // The management listener serves no client traffic: ManagementListener keeps these routes off its port.
        endpoints.MapReverseProxy(proxy =>
        {
            proxy.UseMiddleware<SessionRoutingMiddleware>();
            proxy.UseMiddleware<WebSocketTrackingMiddleware>();
            proxy.UseLoadBalancing();
        });
        return endpoints;
    }
}
