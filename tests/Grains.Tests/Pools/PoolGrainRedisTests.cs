using System.Collections.Immutable;
using Distributed.Grains.Abstractions;
using Distributed.Grains.Tests.Storage;
using Distributed.Topology;
using Microsoft.Extensions.Logging;

namespace Distributed.Grains.Tests.Pools;

/// <summary>The pool grain on real Redis storage: ETag conflicts after a duplicate activation, and a store that lost its data.</summary>
[Trait("Category", "Grains")]
public sealed class PoolGrainRedisTests(RedisClusterPairFixture redis) : IClassFixture<RedisClusterPairFixture>
{
    private static readonly ImmutableArray<BackendSpec> Seed =
    [
        new("b1", "http://127.0.0.1:5001/", 1),
        new("b2", "http://127.0.0.1:5002/", 1),
    ];

    private static readonly PoolSettings Settings = PoolSettings.Default with { Active = ActiveHealthSettings.Default with { Path = "" } };

    [Fact]
    public async Task AdminChange_OnADuplicateActivationWithAStaleETag_IsAppliedOnTopOfTheStoredCatalog()
    {
        var name = $"pool-{Guid.NewGuid():N}";
        var first = redis.First.GetGrain<IPoolGrain>(name);
        var second = redis.Second.GetGrain<IPoolGrain>(name);
        await first.InitializeAsync(Seed, Settings);
        Assert.Equal(["b1", "b2"], (await second.InitializeAsync(Seed, Settings)).Backends.Select(b => b.Id)); // read b1, b2

        Assert.Equal(AdminOutcome.Created, (await first.AddBackendAsync(new BackendSpec("b3", "http://127.0.0.1:5003/", 1), "first")).Outcome); // the second's ETag is stale now

        var merged = await second.AddBackendAsync(new BackendSpec("b4", "http://127.0.0.1:5004/", 1), "second");
        Assert.Equal(AdminOutcome.Created, merged.Outcome);
        Assert.Equal(["b1", "b2", "b3", "b4"], merged.Snapshot.Backends.Select(b => b.Id));

        // The same id added through both: the stale one plans again on what the other stored, and it is a conflict.
        Assert.Equal(AdminOutcome.Created, (await second.AddBackendAsync(new BackendSpec("b5", "http://127.0.0.1:5005/", 1), "second")).Outcome);
        var conflict = await first.AddBackendAsync(new BackendSpec("b5", "http://127.0.0.1:6005/", 1), "first");
        Assert.Equal(AdminOutcome.Conflict, conflict.Outcome);
        Assert.Equal("http://127.0.0.1:5005/", conflict.Snapshot.Backends.Single(b => b.Id == "b5").Address);
        Assert.Contains(redis.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains(name, StringComparison.Ordinal) && e.Message.Contains("another activation", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AdminChange_AfterRedisRestartedEmpty_WritesTheCatalogBackAndSaysSoLoudly()
    {
        var name = $"pool-{Guid.NewGuid():N}";
        var pool = redis.First.GetGrain<IPoolGrain>(name);
        await pool.InitializeAsync(Seed, Settings);
        Assert.True(await redis.CountKeysAsync(name) > 0);

        redis.Redis.KillHard();
        await redis.Redis.RestartAsync(); // no append-only file: it comes back empty
        Assert.Equal(0, await redis.CountKeysAsync(name));

        // The first writes may meet the connection still reconnecting (refused, nothing changed); then it goes through.
        AdminResult? added = null;
        await Wait.UntilAsync(
            async () => (added = await pool.AddBackendAsync(new BackendSpec("b3", "http://127.0.0.1:5003/", 1), "test")).Outcome != AdminOutcome.NotStored,
            TimeSpan.FromSeconds(30),
            "the change to be stored after Redis came back empty");
        Assert.Equal(AdminOutcome.Created, added!.Outcome);
        Assert.Equal(["b1", "b2", "b3"], added.Snapshot.Backends.Select(b => b.Id));
        Assert.False(added.Snapshot.Unseeded);
        Assert.True(await redis.CountKeysAsync(name) > 0);
        Assert.Contains(redis.Logs.Entries, e => e.Level == LogLevel.Error && e.Message.Contains(name, StringComparison.Ordinal) && e.Message.Contains("vanished", StringComparison.Ordinal));
    }
}
