using BenchmarkDotNet.Attributes;
using Distributed.Gateway.Cluster;
using Distributed.Gateway.Configuration;
using Distributed.Gateway.Pinning;
using Distributed.Gateway.Pools;
using Distributed.Gateway.SessionKeys;
using Distributed.Grains.Abstractions;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Distributed.Bench.Micro;

/// <summary>
/// The per-request routing decision of a returning session: key extraction from a header, pin cache lookup and
/// validity check against the snapshot, and (for keyless requests) the least-loaded choice. No grain call happens on
/// these paths; the interesting figure is the allocation column.
/// </summary>
[MemoryDiagnoser]
public class RoutingDecisionBenchmarks : IDisposable
{
    private readonly HeaderSessionKeySource _keys = new("X-Session-Id", 128);
    private readonly DefaultHttpContext _context = new();
    private readonly Random _random = new(42);
    private PoolRuntime _pool = null!;
    private SessionPinResolver _resolver = null!;

    [GlobalSetup]
    public void Setup()
    {
        var time = new FakeTimeProvider();
        var options = new BalancerOptions();
        var pool = new PoolOptions { SessionKey = "Header:X-Session-Id" };
        for (var i = 1; i <= 3; i++)
        {
            pool.Backends[$"b{i}"] = new BackendOptions { Address = $"http://127.0.0.1:500{i}" };
        }

        options.Pools["web"] = pool;
        _pool = new PoolRuntime("web", pool, _keys, options.PinCache, time);
        _pool.Apply(new PoolSnapshot("web", 1, [.. _pool.Seed.Select(b => new BackendSnapshot(b.Id, b.Address, 1, BackendState.Active, 2, EffectiveWeight: 1))], 1, time.GetUtcNow()), [], time.GetUtcNow());
        for (var i = 0; i < 10_000; i++)
        {
            _pool.Pins.Set($"user-{i}", new CachedPin($"b{(i % 3) + 1}", 1, Generation: 0, time.GetUtcNow()));
        }

        var connectivity = new ClusterConnectivity(time);
        // The cached path never calls a grain, so no grain factory is needed.
        _resolver = new SessionPinResolver(null!, _random, time, connectivity, new PoolViewRefresher(null!, time, Options.Create(options)), new NewSessionBudget(Options.Create(options)), new ConfirmationPacer(Options.Create(options)), Options.Create(options), NullLogger<SessionPinResolver>.Instance);
        _context.Request.Headers["X-Session-Id"] = "user-4242";
    }

    public void Dispose() => GC.SuppressFinalize(this);

    [Benchmark]
    public string? ExtractKey() => _keys.GetKey(_context).Key;

    [Benchmark]
    public string? ChooseLeastLoaded() => _pool.View.ChooseLeastLoaded(_random)?.Id;

    [Benchmark(Baseline = true)]
    public string? DecideReturningSession()
    {
        var key = _keys.GetKey(_context);
        var decision = _resolver.ResolveAsync(_pool, key);
        return decision.IsCompletedSuccessfully ? decision.Result.Backend?.Id : throw new InvalidOperationException("A cached pin must not need a grain.");
    }

    [Benchmark]
    public string? DecideKeyless()
    {
        var decision = _resolver.ResolveAsync(_pool, SessionKeyResult.None);
        return decision.IsCompletedSuccessfully ? decision.Result.Backend?.Id : throw new InvalidOperationException("A keyless decision must not need a grain.");
    }
}
