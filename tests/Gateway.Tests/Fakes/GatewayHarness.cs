using System.Collections.Immutable;
using Distributed.Gateway.Cluster;
using Distributed.Gateway.Configuration;
using Distributed.Gateway.Pinning;
using Distributed.Gateway.Pools;
using Distributed.Gateway.Telemetry;
using Distributed.Grains.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Distributed.Gateway.Tests.Fakes;

/// <summary>
/// One gateway's request-path objects over fake grains and a fake clock: pool "web" with backends b1–b3, a snapshot
/// adopted from the "cluster", the resolver and what it needs.
/// </summary>
internal sealed class GatewayHarness : IDisposable
{
    public const string PoolName = "web";
    public const long Generation = 1_000;
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public GatewayHarness(string sessionKey = "Header:X-Session-Id", Action<BalancerOptions>? configure = null)
    {
        Grains = new FakeGrains(Time);
        var pool = new PoolOptions { SessionKey = sessionKey };
        foreach (var id in (string[])["b1", "b2", "b3"])
        {
            pool.Backends[id] = new BackendOptions { Address = $"http://127.0.0.1:500{id[1]}" };
        }

        Options.Pools[PoolName] = pool;
        Options.Cookies.SigningKey = Convert.ToBase64String(new byte[32]);
        configure?.Invoke(Options);
        var options = Microsoft.Extensions.Options.Options.Create(Options);
        Registry = new PoolRegistry(options, Time, NullLogger<PoolRegistry>.Instance);
        Connectivity = new ClusterConnectivity(Time);
        Telemetry = new GatewayTelemetry(_services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), Registry, Connectivity, Time);
        Refresher = new PoolViewRefresher(Grains.Factory, Time, options);
        Budget = new NewSessionBudget(options);
        Pacer = new ConfirmationPacer(options);
        Warmup = new PinHintWarmup(Registry, Grains.Factory, options, Time, NullLogger<PinHintWarmup>.Instance);
        Resolver = new SessionPinResolver(Grains.Factory, new Random(7), Time, Connectivity, Refresher, Budget, Pacer, options, NullLogger<SessionPinResolver>.Instance);
        Adopt(Backend("b1"), Backend("b2"), Backend("b3"));
    }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));

    public FakeGrains Grains { get; }

    public BalancerOptions Options { get; } = new();

    public PoolRegistry Registry { get; }

    public PoolRuntime Pool => Registry.Find(PoolName)!;

    public ClusterConnectivity Connectivity { get; }

    public GatewayTelemetry Telemetry { get; }

    public PoolViewRefresher Refresher { get; }

    public NewSessionBudget Budget { get; }

    public ConfirmationPacer Pacer { get; }

    public SessionPinResolver Resolver { get; }

    public PinHintWarmup Warmup { get; }

    public static BackendSnapshot Backend(string id, long generation = Generation, bool keepsSessions = true, bool acceptsNew = true, int inFlight = 0) =>
        new(id, $"http://127.0.0.1:500{id[1..]}", 1, BackendState.Active, inFlight, EffectiveWeight: 1, AcceptsNewSessions: acceptsNew, KeepsSessions: keepsSessions, PinGeneration: generation);

    public static PoolSnapshot Snapshot(params BackendSnapshot[] backends) =>
        new(PoolName, 1, [.. backends.OrderBy(b => b.Id, StringComparer.Ordinal)], 1, DateTimeOffset.UnixEpoch);

    /// <summary>Adopts a snapshot as if the load reporter had received it; the fake pool grain answers with it too.</summary>
    public void Adopt(params BackendSnapshot[] backends)
    {
        var snapshot = Snapshot(backends);
        Grains.Pool(PoolName).Snapshot = snapshot;
        Pool.Apply(snapshot, ImmutableArray<BackendLoad>.Empty, Time.GetUtcNow());
    }

    /// <summary>Where placement puts <paramref name="key"/> in the current view.</summary>
    public string Placed(string key, string? excluded = null) => Pool.Place(key, requestKey: null, new Random(1), excluded)!.Id;

    /// <summary>A key whose placement is <paramref name="backend"/>.</summary>
    public string KeyPlacedOn(string backend, string prefix = "user") =>
        Enumerable.Range(0, 1_000).Select(i => $"{prefix}-{i}").First(k => Placed(k) == backend);

    public FakeSessionGrain Session(string key) => Grains.Session(PoolName, key);

    public void Dispose()
    {
        Budget.Dispose();
        Pacer.Dispose();
        Warmup.Dispose();
        _services.Dispose();
    }

    /// <summary>Waits (real time, with a deadline) for background work such as a confirmation to show its effect.</summary>
    public static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting for {what}.");
            }

            await Task.Delay(10);
        }
    }
}
