using System.Diagnostics;
using System.Diagnostics.Metrics;
using Distributed.Gateway.Cluster;
using Distributed.Gateway.Pinning;
using Distributed.Gateway.Pools;

namespace Distributed.Gateway.Telemetry;

/// <summary>
/// The gateway's own traces and metrics: one <see cref="ActivitySource"/> and one <see cref="Meter"/> named
/// <c>Distributed.Gateway</c>, instruments in dotted form. Per-backend gauges read the current snapshot, so they show
/// the cluster-wide figures every gateway agrees on.
/// </summary>
internal sealed class GatewayTelemetry
{
    /// <summary>OpenTelemetry service name, ActivitySource and Meter name of gateways.</summary>
    public const string ServiceName = "Distributed.Gateway";

    public static readonly ActivitySource ActivitySource = new(ServiceName);

    private static readonly SessionGrainCall[] GrainCallKinds = Enum.GetValues<SessionGrainCall>();

    private readonly Counter<long> _retries;

    public GatewayTelemetry(IMeterFactory meters, PoolRegistry pools, ClusterConnectivity connectivity, TimeProvider time)
    {
        var meter = meters.Create(ServiceName);
        // Figures are running totals the features keep anyway (interlocked increments), read when metrics are collected:
        // a metric call with tags per request cost more than the routing decision itself, and the features need not know
        // this class (it depends on them, never the other way round).
        meter.CreateObservableCounter("distributed.gateway.requests", () => Requests(pools), "{request}", "Requests forwarded, by pool, backend and result (success, failure).");
        meter.CreateObservableCounter("distributed.gateway.pin.cache.hits", () => Pools(pools, p => p.Pins.Hits), "{request}", "Requests whose session pin came from this gateway's cache.");
        meter.CreateObservableCounter("distributed.gateway.pin.cache.misses", () => Pools(pools, p => p.Pins.Misses), "{request}", "Requests whose session pin needed the session grain.");
        meter.CreateObservableCounter("distributed.gateway.sessions.over_budget", () => Pools(pools, p => p.Pins.OverBudget), "{session}", "New sessions refused because their client's budget of new sessions was spent; routed keyless instead.");
        meter.CreateObservableCounter("distributed.gateway.pin.guesses", () => Pools(pools, p => p.Pins.Guesses), "{request}", "Requests routed by a guess because the session grain did not answer within the wait budget.");
        meter.CreateObservableCounter("distributed.gateway.pin.confirmations.deferred", () => Pools(pools, p => p.Pins.ConfirmationsDeferred), "{confirmation}", "Confirmations of due pins left to the session's next request because the gateway's pace (Balancer:PinCache:MaxConfirmationsPerSecond) was spent.");
        meter.CreateObservableCounter("distributed.gateway.grain.calls", () => GrainCalls(pools), "{call}", "Session grain calls, by operation.");
        _retries = meter.CreateCounter<long>("distributed.gateway.retries", "{request}", "Idempotent requests retried on another backend after a transport failure.");
        meter.CreateObservableCounter("distributed.gateway.pool.reseeds", () => Pools(pools, p => connectivity.Reports(p.Name).Reseeds), "{seed}", "Pools this gateway seeded again because the cluster's store had lost their registry.");
        meter.CreateObservableGauge("distributed.gateway.snapshot.age", () => Pools(pools, p => (time.GetUtcNow() - p.View.ReceivedAt).TotalSeconds), "s", "Age of this gateway's snapshot of each pool.");
        meter.CreateObservableGauge("distributed.gateway.degraded", () => connectivity.IsDegraded ? 1 : 0, description: "1 while the cluster is unreachable and the gateway routes fail-static.");
        meter.CreateObservableGauge("distributed.gateway.pool.reachable", () => Pools(pools, p => connectivity.Reports(p.Name).Unreachable ? 0 : 1), description: "1 while this gateway's load reports to the pool's grain succeed; 0 after two failed in a row.");
        meter.CreateObservableGauge("distributed.gateway.pool.report.failures", () => Pools(pools, p => connectivity.Reports(p.Name).FailuresInARow), "{report}", "Load reports to the pool's grain that failed in a row.");
        meter.CreateObservableGauge("distributed.pool.panic", () => Pools(pools, p => p.View.Snapshot.Panic ? 1 : 0), description: "1 while too few of the pool's backends are healthy and every active backend takes traffic.");
        meter.CreateObservableGauge("distributed.gateway.pin.cache.entries", () => Pools(pools, p => (long)p.Pins.Count), "{entry}", "Pins cached by this gateway.");
        meter.CreateObservableGauge("distributed.backend.inflight", () => Backends(pools, b => b.Backend.ClusterInFlight), "{request}", "Requests in flight to the backend across every gateway (cluster-wide).");
        meter.CreateObservableGauge("distributed.backend.health", () => Backends(pools, b => (int)b.Backend.Health), description: "The cluster's verdict: 0 healthy, 1 unhealthy (probes), 2 ejected (passive).");
        meter.CreateObservableGauge("distributed.backend.weight.effective", () => Backends(pools, b => b.Backend.EffectiveWeight), description: "Weight after slow start.");
        meter.CreateObservableGauge("distributed.backend.accepting", () => Backends(pools, b => b.AcceptsNew ? 1 : 0), description: "1 when the backend takes new sessions (active, healthy or panic, not full).");
    }

    public void Retried(string pool, string backend) =>
        _retries.Add(1, new KeyValuePair<string, object?>("pool", pool), new KeyValuePair<string, object?>("backend", backend));

    /// <summary>Starts the span of a routing decision (a child of the request's server span; grain calls nest in it).</summary>
    public static Activity? StartDecision(string pool) =>
        ActivitySource.StartActivity("distributed.route")?.SetTag("distributed.pool", pool);

    /// <summary>Records the decision on its span.</summary>
    public static void Decided(Activity? activity, RoutingDecision decision, PoolView view, TimeProvider time)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetTag("distributed.session.outcome", Outcome(decision.Outcome));
        activity.SetTag("distributed.backend.id", decision.Backend?.Id);
        activity.SetTag("distributed.snapshot.age_ms", (long)(time.GetUtcNow() - view.ReceivedAt).TotalMilliseconds);
    }

    /// <summary>The outcome as spans and the <c>Server-Timing</c> header name it.</summary>
    public static string Outcome(RoutingOutcome outcome) => outcome switch
    {
        RoutingOutcome.Pinned => "pinned",
        RoutingOutcome.New => "new",
        RoutingOutcome.Repinned => "repinned",
        RoutingOutcome.Keyless => "keyless",
        RoutingOutcome.Provisional => "provisional",
        _ => "nobackend",
    };

    private static IEnumerable<Measurement<long>> Requests(PoolRegistry pools)
    {
        foreach (var pool in pools.All)
        {
            foreach (var (backend, counter) in pool.Counters)
            {
                yield return Request(pool.Name, backend, "success", counter.SucceededTotal);
                yield return Request(pool.Name, backend, "failure", counter.FailedTotal);
            }
        }

        static Measurement<long> Request(string pool, string backend, string result, long value) => new(
            value,
            new KeyValuePair<string, object?>("pool", pool),
            new KeyValuePair<string, object?>("backend", backend),
            new KeyValuePair<string, object?>("result", result));
    }

    private static IEnumerable<Measurement<long>> GrainCalls(PoolRegistry pools) =>
        pools.All.SelectMany(p => GrainCallKinds.Select(call => new Measurement<long>(
            p.Pins.GrainCalls(call),
            new KeyValuePair<string, object?>("pool", p.Name),
            new KeyValuePair<string, object?>("operation", Operation(call)))));

    // The operation tag as the metric has always named it.
    private static string Operation(SessionGrainCall call) => call switch
    {
        SessionGrainCall.GetOrPin => "get_or_pin",
        SessionGrainCall.Get => "get",
        SessionGrainCall.Repin => "repin",
        _ => "confirm",
    };

    private static IEnumerable<Measurement<T>> Pools<T>(PoolRegistry pools, Func<PoolRuntime, T> value)
        where T : struct =>
        pools.All.Select(p => new Measurement<T>(value(p), new KeyValuePair<string, object?>("pool", p.Name)));

    private static IEnumerable<Measurement<T>> Backends<T>(PoolRegistry pools, Func<BackendEntry, T> value)
        where T : struct =>
        pools.All.SelectMany(p => p.View.Backends.Select(b => new Measurement<T>(
            value(b),
            new KeyValuePair<string, object?>("pool", p.Name),
            new KeyValuePair<string, object?>("backend", b.Id))));
}
