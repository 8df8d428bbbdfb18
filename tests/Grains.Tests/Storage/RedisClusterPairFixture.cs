using Distributed.Topology;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;
using StackExchange.Redis;

namespace Distributed.Grains.Tests.Storage;

/// <summary>
/// A private <c>redis-server</c> and two in-process clusters of the same service storing grains in it. Both can
/// activate the same grain at once, as a single cluster does briefly during a membership change (a duplicate
/// activation), so each sees the other's writes only through Redis and its ETags.
/// </summary>
public sealed class RedisClusterPairFixture : IAsyncLifetime
{
    private readonly List<InProcessTestCluster> _clusters = [];

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));

    public RecordingLoggerProvider Logs { get; } = new();

    public RedisServer Redis { get; private set; } = null!;

    public IClusterClient First => _clusters[0].Client;

    public IClusterClient Second => _clusters[1].Client;

    public async Task InitializeAsync()
    {
        Redis = await RedisServer.StartAsync();
        var serviceId = $"redis-tests-{Guid.NewGuid():N}";
        for (var i = 0; i < 2; i++)
        {
            var builder = new InProcessTestClusterBuilder(1);
            builder.Options.ServiceId = serviceId;
            builder.ConfigureSilo((_, silo) =>
            {
                var redis = ConfigurationOptions.Parse(Redis.ConnectionString);
                silo.AddRedisGrainStorage(StorageNames.Pools, o => o.ConfigurationOptions = redis);
                silo.AddRedisGrainStorage(StorageNames.Sessions, o => o.ConfigurationOptions = redis);
                silo.Services.AddKeyedSingleton<TimeProvider>(BalancerTime.ServiceKey, Time);
                silo.Services.AddSingleton<ILoggerProvider>(Logs);
                silo.Services.AddDistributedGrains();
            });
            var cluster = builder.Build();
            await cluster.DeployAsync();
            _clusters.Add(cluster);
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var cluster in _clusters)
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }

        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }
    }

    /// <summary>Keys stored in Redis whose name contains <paramref name="fragment"/>.</summary>
    public async Task<int> CountKeysAsync(string fragment)
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(Redis.ConnectionString);
        var server = connection.GetServer(connection.GetEndPoints()[0]);
        var count = 0;
        await foreach (var _ in server.KeysAsync(pattern: $"*{fragment}*"))
        {
            count++;
        }

        return count;
    }
}
