using Distributed.Grains.Tests.Calling;
using Distributed.Grains.Tests.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime.Hosting;
using Orleans.Serialization;
using Orleans.TestingHost;

namespace Distributed.Grains.Tests;

/// <summary>
/// One in-process Orleans cluster for a test class, with the balancer's clock replaced by a
/// <see cref="FakeTimeProvider"/> (Orleans' own clock is left alone). Sessions and pools each use a
/// <see cref="ControlledGrainStorage"/>, which behaves as Redis storage until a test makes one grain's writes fail or hang;
/// <see cref="Calls"/> makes calls to one grain's method fail.
/// </summary>
public sealed class GrainClusterFixture : IAsyncLifetime
{
    private InProcessTestCluster? _cluster;

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero));

    public ControlledGrainStorage PoolStorage { get; } = new();

    public ControlledGrainStorage SessionStorage { get; } = new();

    public RecordingLoggerProvider Logs { get; } = new();

    public FailingCalls Calls { get; } = new();

    public IClusterClient Client => _cluster?.Client ?? throw new InvalidOperationException("Cluster not started.");

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, silo) =>
        {
            // Sessions on storage that tests can make fail per grain; pools on storage whose writes tests can fail or hang.
            silo.Services.AddGrainStorage(StorageNames.Sessions, (services, _) => SessionStorage.With(services.GetRequiredService<DeepCopier>()));
            silo.Services.AddGrainStorage(StorageNames.Pools, (services, _) => PoolStorage.With(services.GetRequiredService<DeepCopier>()));
            silo.Services.AddKeyedSingleton<TimeProvider>(BalancerTime.ServiceKey, Time);
            silo.Services.AddSingleton<ILoggerProvider>(Logs);
            silo.AddIncomingGrainCallFilter(Calls);
            silo.Services.AddDistributedGrains();
        });
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    /// <summary>Polls <paramref name="get"/> until <paramref name="until"/> holds (one-way calls have no reply to await).</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T>> get, Func<T, bool> until)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var value = await get();
            if (until(value) || DateTime.UtcNow > deadline)
            {
                return value;
            }

            await Task.Delay(20);
        }
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.StopAllSilosAsync();
            await _cluster.DisposeAsync();
        }
    }
}
