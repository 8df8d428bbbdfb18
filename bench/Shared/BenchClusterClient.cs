using Distributed.ServiceDefaults;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace Distributed.Bench;

/// <summary>The Orleans client of the benchmark programs (linked into each): the cluster named by <c>Orleans:*</c>, as gateways join it.</summary>
internal static class BenchClusterClient
{
    /// <summary>
    /// The host of a benchmark program: its options from the command line (<c>--name value</c>), warnings and errors
    /// only in its output, and an Orleans client of the cluster that <c>Orleans:*</c> names.
    /// </summary>
    public static HostApplicationBuilder CreateBuilder(string[] args)
    {
        var builder = Host.CreateApplicationBuilder(args);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        return builder.UseBenchClusterClient();
    }

    /// <summary>The pid of the silo the program measures (<c>--silo-pid</c>, required).</summary>
    public static int SiloPid(IConfiguration config) =>
        config.GetValue<int?>("silo-pid") ?? throw new ArgumentException("--silo-pid <pid of the silo process> is required.");

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
