using Distributed.Gateway.Configuration;
using Distributed.Gateway.Pinning;
using Distributed.Gateway.Pools;
using Distributed.Gateway.Routing;
using Distributed.Gateway.Telemetry;
using Distributed.Gateway.WebSockets;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace Distributed.Gateway;

/// <summary>Registration of the gateway's features.</summary>
internal static class GatewayServiceCollectionExtensions
{
    /// <summary>Pools, session pinning and cluster-wide least-loaded routing, feeding YARP.</summary>
    public static IServiceCollection AddSessionBalancing(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<BalancerOptions>()
            .Bind(configuration.GetSection(BalancerOptions.SectionName))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<BalancerOptions>, BalancerOptionsValidator>();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(Random.Shared);
        services.AddSingleton<PoolRegistry>();
        services.AddSingleton<ClusterConnectivity>();
        services.AddSingleton<PoolViewRefresher>();
        services.AddSingleton<NewSessionBudget>();
        services.AddSingleton<SessionPinResolver>();
        services.AddSingleton<PinHintWarmup>();
        services.AddSingleton<GatewayTelemetry>();
        services.AddHostedService<ClusterLoadReporter>();
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
