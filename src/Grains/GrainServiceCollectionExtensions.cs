using Distributed.Grains.Health;

namespace Distributed.Grains;

/// <summary>What a silo hosting Distributed's grains must register.</summary>
public static class GrainServiceCollectionExtensions
{
    /// <summary>The balancer clock and the HttpClients of the health probes.</summary>
    public static IServiceCollection AddDistributedGrains(this IServiceCollection services)
    {
        services.AddBalancerTime();
        services.AddHttpClient(BackendProbeGrain.HttpClientName, client => client.DefaultRequestHeaders.UserAgent.ParseAdd(ProbeHttpClients.UserAgent));
        services.AddSingleton<ProbeHttpClients>();
        return services;
    }
}
