using System.Collections.Concurrent;
using System.Diagnostics;
using Distributed.Grains.Abstractions;
using Distributed.Grains.Tests.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;
using Orleans.TestingHost;
using Xunit.Abstractions;

namespace Distributed.Grains.Tests.Sessions;

/// <summary>
/// Session grain calls from an Orleans client set up as a gateway's while silos stop gracefully and new ones join, one
/// after the other. Orleans deactivates the leaving silo's grains and hands its directory over; a call caught in that
/// is rejected at once ("Silo stopping", sometimes several times in a row, until every silo has seen the change) or,
/// rarely, never answered and then left to Orleans' whole response timeout unless the caller bounds it. The gateway's
/// client sends rejected calls again (<see cref="RejectedCallRetryFilter"/>), bounds every cluster call
/// (<c>Balancer:ClusterCallTimeout</c>) and asks once more for a pin it did not get: so every call is answered with the
/// stored pin, none falls back to a guess, and none waits longer than the bound.
/// </summary>
[Trait("Category", "Grains")]
public sealed class GracefulSiloStopTests(ITestOutputHelper output)
{
    private const int Sessions = 2000;
    private const int Callers = 16;

    // Orleans' default, left as production has it.
    private static readonly TimeSpan ResponseTimeout = TimeSpan.FromSeconds(30);

    // The gateway's default Balancer:ClusterCallTimeout.
    private static readonly TimeSpan CallBound = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task SilosStoppingGracefullyOneAfterAnother_BoundedCallsWithOneRetryAreAllAnsweredAndNoneWaitsTheResponseTimeout()
    {
        var store = new ControlledGrainStorage(); // one store for every silo, as they share Redis
        var builder = new InProcessTestClusterBuilder(3);
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSilo((_, silo) =>
        {
            foreach (var name in (string[])[StorageNames.Sessions, StorageNames.Pools])
            {
                silo.Services.AddKeyedSingleton<IGrainStorage>(name, (services, _) => store.With(services.GetRequiredService<DeepCopier>()));
            }

            silo.Services.AddKeyedSingleton(BalancerTime.ServiceKey, TimeProvider.System);
            silo.Services.AddDistributedGrains();

            // Production's notice to clients before a silo stops (the test cluster turns it off to stop faster).
            silo.Configure<SiloMessagingOptions>(o => o.ClientGatewayShutdownNotificationTimeout = SiloMessagingOptions.DEFAULT_CLIENT_GW_NOTIFICATION_TIMEOUT);
        });
        builder.ConfigureClient(client =>
        {
            client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = ResponseTimeout);
            // As the gateway's client is set up (src/Gateway/Cluster/OrleansClientExtensions.cs).
            client.Services.AddSingleton(TimeProvider.System);
            client.AddOutgoingGrainCallFilter<RejectedCallRetryFilter>();
        });
        await using var cluster = builder.Build();
        await cluster.DeployAsync();
        var keys = Enumerable.Range(0, Sessions).Select(i => SessionGrainKey.For("web", $"s{i}")).ToArray();
        await Parallel.ForEachAsync(keys, async (key, token) => await cluster.Client.GetGrain<ISessionGrain>(key).GetOrPinAsync(new BackendRef("b1", 0), TimeSpan.FromHours(1), cancellationToken: token));

        var attempts = new ConcurrentQueue<(TimeSpan Latency, Exception? Error)>();
        var calls = new ConcurrentQueue<(TimeSpan Latency, string? Backend)>();
        using var stop = new CancellationTokenSource();
        var next = -1;
        var callers = Enumerable.Range(0, Callers).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var grain = cluster.Client.GetGrain<ISessionGrain>(keys[(Interlocked.Increment(ref next) & int.MaxValue) % keys.Length]);
                var call = Stopwatch.StartNew();
                string? backend = null;
                for (var attempt = 0; attempt < 2 && backend is null; attempt++)
                {
                    var clock = Stopwatch.StartNew();
                    using var bound = new CancellationTokenSource(CallBound);
                    try
                    {
                        // The token alone (the gateway also stops waiting itself): Orleans must give up on it.
                        backend = (await grain.GetOrPinAsync(new BackendRef("b2", 0), TimeSpan.FromHours(1), cancellationToken: bound.Token)).Pin.BackendId;
                        attempts.Enqueue((clock.Elapsed, null));
                    }
                    catch (Exception ex)
                    {
                        attempts.Enqueue((clock.Elapsed, ex));
                    }
                }

                calls.Enqueue((call.Elapsed, backend));
            }
        })).ToArray();

        // Every silo but the first (it hosts the test membership table) leaves gracefully and is replaced.
        var stops = new List<string>();
        foreach (var silo in cluster.Silos.Skip(1).ToList())
        {
            var clock = Stopwatch.StartNew();
            await cluster.StopSiloAsync(silo);
            var stopped = clock.Elapsed;
            await cluster.StartAdditionalSiloAsync();
            stops.Add($"{silo.Name} stopped in {stopped.TotalSeconds:F1} s, replacement joined after {clock.Elapsed.TotalSeconds:F1} s");
        }

        // Calls go on until there have been more than one per session (on a fast machine the stops are over sooner):
        // callers that stalled never get there.
        var deadline = Stopwatch.StartNew();
        while (calls.Count <= Sessions && deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(50);
        }

        await stop.CancelAsync();
        await Task.WhenAll(callers);

        var failed = attempts.Where(a => a.Error is not null).ToList();
        var rejected = failed.Where(a => a.Error is OrleansMessageRejectionException).ToList();
        var unanswered = failed.Where(a => a.Error is OperationCanceledException or TimeoutException).ToList();
        var latencies = calls.Select(c => c.Latency.TotalMilliseconds).Order().ToArray();
        output.WriteLine(string.Join("\n", stops));
        output.WriteLine($"{calls.Count} calls; attempts {attempts.Count}: {rejected.Count} rejected after the filter's resends ({rejected.Count(r => r.Error is SiloUnavailableException)} of them: silo gone; slowest {(rejected.Count == 0 ? 0 : rejected.Max(r => r.Latency.TotalMilliseconds)):F0} ms), {unanswered.Count} unanswered within {CallBound.TotalSeconds:F0} s, {failed.Count - rejected.Count - unanswered.Count} other failures");
        output.WriteLine($"call latency: p50 {latencies[latencies.Length / 2]:F1} ms, p99.9 {latencies[(int)(latencies.Length * 0.999)]:F1} ms, max {latencies[^1]:F1} ms");
        foreach (var other in failed.Except(rejected).Except(unanswered).Take(5))
        {
            output.WriteLine($"after {other.Latency}: {other.Error}");
        }

        // Every call answered, the pin intact (storage outlives the silos), and nothing waited the response timeout.
        Assert.All(calls, c => Assert.Equal("b1", c.Backend));
        Assert.Equal(failed.Count, rejected.Count + unanswered.Count);
        Assert.All(rejected, r => Assert.True(r.Latency < CallBound, $"A rejection took {r.Latency}."));
        Assert.True(attempts.Max(a => a.Latency) < ResponseTimeout / 3, $"An attempt took {attempts.Max(a => a.Latency)}: Orleans did not give up on it when its token was cancelled.");
        Assert.True(calls.Count > Sessions, "The callers stalled.");
    }
}
