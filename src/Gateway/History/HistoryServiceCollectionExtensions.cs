using Distributed.Gateway.Cluster;

namespace Distributed.Gateway.History;

/// <summary>Registration of the management API's in-memory history.</summary>
internal static class HistoryServiceCollectionExtensions
{
    /// <summary>The per-pool history (<c>Balancer:History</c>) and the background sampler that fills it.</summary>
    public static IServiceCollection AddPoolHistory(this IServiceCollection services)
    {
        services.AddSingleton<IBackendSessionCounter, GrainBackendSessionCounter>();
        services.AddSingleton<IBackendLatencySource, PrometheusBackendLatencySource>();
        services.AddSingleton<HistoryStore>();
        services.AddHostedService<HistorySampler>();
        return services;
    }
}
