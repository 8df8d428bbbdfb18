using Distributed.Grains.Abstractions;
using Distributed.ServiceDefaults;
using Orleans.Configuration;

namespace Distributed.Gateway.Cluster;

/// <summary>Connects the gateway to the Orleans cluster as a client.</summary>
internal static class OrleansClientExtensions
{
    /// <summary>Adds the Orleans client with the clustering chosen by the <c>Orleans</c> section.</summary>
    public static WebApplicationBuilder AddClusterClient(this WebApplicationBuilder builder)
    {
        var cluster = ClusterHostingOptions.Load(builder);
        builder.UseOrleansClient(client =>
        {
            client.AddActivityPropagation();
            if (cluster.TlsMaterial is { } tls)
            {
                client.UseTls(tls.Certificate, tls.Configure);
            }

            // A silo leaving gracefully rejects calls for a moment ("Silo stopping"); sent again, they reach the grain's
            // new home instead of failing a request or falling back to a guessed pin.
            client.AddOutgoingGrainCallFilter<RejectedCallRetryFilter>();

            // With no silo to call, a request does not spend its wait budget on a call that cannot be answered.
            client.AddClusterConnectionStatusObserver<SiloConnectionObserver>();

            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = cluster.ClusterId;
                o.ServiceId = cluster.ServiceId;
            });

            // How often the client re-reads the list of silos it may connect to. Orleans' default (1 minute) would
            // keep a gateway away from restarted silos for that long after losing them all.
            client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(5));
            client.Configure<GatewayOptions>(builder.Configuration.GetSection("Orleans:Gateway"));

            if (cluster.Clustering == ClusteringMode.Redis)
            {
                client.UseRedisClustering(cluster.Redis!);
            }
            else
            {
                client.UseLocalhostClustering(cluster.GatewayPort);
            }

            // Wait for the cluster at start-up instead of failing: gateways and silos start in any order.
            client.UseConnectionRetryFilter(async (_, cancellationToken) =>
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
                return true;
            });
        });
        return builder;
    }
}
