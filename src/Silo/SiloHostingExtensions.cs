using System.Net;
using Distributed.Grains;
using Distributed.ServiceDefaults;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Orleans.Configuration;
using Orleans.Persistence;
using Orleans.Storage;
using StackExchange.Redis;

namespace Distributed.Silo;

/// <summary>Registers the Orleans silo with the clustering and storage chosen by the <c>Orleans</c> section.</summary>
public static class SiloHostingExtensions
{
    /// <summary>OpenTelemetry service name, ActivitySource and Meter name of silos.</summary>
    public const string ServiceName = "Distributed.Silo";

    /// <summary>Adds the silo; invalid <c>Orleans:*</c> settings stop start-up with a message naming the key.</summary>
    public static WebApplicationBuilder AddDistributedSilo(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var cluster = ClusterHostingOptions.Load(builder);

        builder.Services.AddDistributedGrains();
        builder.Services.AddHealthChecks().AddCheck<SiloActiveHealthCheck>("orleans-silo", tags: ["ready"]);
        builder.UseOrleans(silo =>
        {
            silo.AddActivityPropagation();
            silo.AddDistributedDashboard(builder.Configuration);
            if (cluster.TlsMaterial is { } tls)
            {
                silo.UseTls(tls.Certificate, tls.Configure);
            }

            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = cluster.ClusterId;
                o.ServiceId = cluster.ServiceId;
            });

            // Failure detection: Orleans' defaults (a dead silo is declared in roughly 15–20 s) unless overridden,
            // e.g. Orleans:Membership:ProbeTimeout=00:00:01 for chaos tests on one machine.
            silo.Configure<ClusterMembershipOptions>(builder.Configuration.GetSection("Orleans:Membership"));

            switch (cluster.Clustering)
            {
                case ClusteringMode.Localhost:
                    silo.UseLocalhostClustering(cluster.SiloPort, cluster.GatewayPort);
                    break;
                case ClusteringMode.Redis:
                    silo.UseRedisClustering(cluster.Redis!);
                    if (cluster.AdvertisedIp is { } ip)
                    {
                        silo.ConfigureEndpoints(IPAddress.Parse(ip), cluster.SiloPort, cluster.GatewayPort);
                    }
                    else
                    {
                        silo.ConfigureEndpoints(cluster.SiloPort, cluster.GatewayPort);
                    }

                    break;
            }

            if (cluster.EffectiveStorage == GrainStorageMode.Redis)
            {
                silo.AddRedisGrainStorage(StorageNames.Pools, o => o.ConfigurationOptions = ConfigurationOptions.Parse(cluster.Redis!));
                AddSessionStore(silo, cluster);
            }
            else
            {
                silo.AddMemoryGrainStorage(StorageNames.Pools);
                silo.AddMemoryGrainStorage(StorageNames.Sessions);
            }
        });

        return builder;
    }

    // Pins in Redis, each record expiring a margin after its pin lapses (ExpiringRedisGrainStorage); an unpin deletes it.
    private static void AddSessionStore(ISiloBuilder silo, ClusterHostingOptions cluster)
    {
        var connection = new ExpiringRedisGrainStorage.Connection(cluster.ServiceId);
        silo.AddRedisGrainStorage(StorageNames.Sessions, (RedisStorageOptions o) =>
        {
            o.ConfigurationOptions = ConfigurationOptions.Parse(cluster.Redis!);

            // While Redis is unreachable a pin can be neither read nor stored: the call fails at once (the gateway routes
            // by its guess and reconciles later) instead of the command queueing until its timeout and holding every
            // uncached request for the gateway's whole wait budget.
            o.ConfigurationOptions.BacklogPolicy = BacklogPolicy.FailFast;
            o.DeleteStateOnClear = true;
            o.EntryExpiry = ExpiringRedisGrainStorage.Backstop;
            o.GetStorageKey = (stateName, grainId) => ExpiringRedisGrainStorage.Key(cluster.ServiceId, stateName, grainId);
            o.CreateMultiplexer = connection.CreateAsync;
        });

        // Replaces the registration above (the last keyed registration wins); Orleans' lifecycle hook resolves it too.
        silo.Services.AddKeyedSingleton<IGrainStorage>(StorageNames.Sessions, (services, _) => new ExpiringRedisGrainStorage(
            RedisGrainStorageFactory.Create(services, StorageNames.Sessions),
            connection,
            cluster.SessionRecordMargin,
            services.GetRequiredService<ILogger<ExpiringRedisGrainStorage>>()));
    }

    /// <summary>
    /// Ready once this silo is an active member of the cluster (it can host grains) and its membership view lists no
    /// superseded silo as active: an earlier incarnation (same endpoint, older generation) of a silo that restarted.
    /// After every silo restarted at once such ghosts stay listed until they are voted dead, and grain calls routed
    /// through them (directory partitions they seem to own) wait Orleans' whole response timeout meanwhile; the chaos
    /// test saw sessions served from a fail-static guess that way.
    /// </summary>
    private sealed class SiloActiveHealthCheck(IClusterMembershipService membership, ILocalSiloDetails local) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var snapshot = membership.CurrentSnapshot;
            var status = snapshot.GetSiloStatus(local.SiloAddress);
            if (status != SiloStatus.Active)
            {
                return Task.FromResult(HealthCheckResult.Unhealthy($"Silo status is {status}."));
            }

            var superseded = snapshot.Members.Values.Count(member => member.Status == SiloStatus.Active && snapshot.Members.Keys.Any(other =>
                other.Endpoint.Equals(member.SiloAddress.Endpoint) && other.Generation > member.SiloAddress.Generation));
            return Task.FromResult(superseded == 0
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy($"Membership still lists {superseded} superseded silo(s) as active (restarted; not yet declared dead)."));
        }
    }
}
