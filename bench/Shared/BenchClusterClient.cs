using Distributed.ServiceDefaults;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;

namespace Distributed.Bench;

/// <summary>The Orleans client of the benchmark programs (linked into each): the cluster named by <c>Orleans:*</c>, as gateways join it.</summary>
internal static class BenchClusterClient
{
    /// <summary>Joins the cluster that <c>Orleans:Clustering</c>, <c>:Redis</c>, <c>:ClusterId</c> and <c>:GatewayPort</c> name.</summary>
    public static HostApplicationBuilder UseBenchClusterClient(this HostApplicationBuilder builder)
    {
        var cluster = ClusterHostingOptions.Load(builder.Configuration);
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = cluster.ClusterId;
                o.ServiceId = cluster.ServiceId;
            });
            if (cluster.Clustering == ClusteringMode.Redis)
            {
                client.UseRedisClustering(cluster.Redis!);
            }
            else
            {
                client.UseLocalhostClustering(cluster.GatewayPort);
            }
        });
        return builder;
    }
}
