using System.Globalization;
using System.Security.Authentication;
using Distributed.Gateway.Configuration;
using Distributed.Gateway.Pinning;
using Distributed.Gateway.Pools;
using Distributed.Gateway.SessionKeys;
using Distributed.Gateway.Telemetry;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace Distributed.Gateway.Routing;

/// <summary>
/// A step of YARP's proxy pipeline: decides the one destination of the request (the session's pin, or the backend the
/// pool's policy chooses) and narrows <see cref="IReverseProxyFeature.AvailableDestinations"/> to it, so YARP's own
/// forwarder sends the request there. Counts the request in flight for the cluster-wide load figures.
/// </summary>
internal sealed partial class SessionRoutingMiddleware(
    RequestDelegate next,
    PoolRegistry pools,
    SessionPinResolver resolver,
    GatewayTelemetry telemetry,
    TimeProvider time,
    IOptions<BalancerOptions> options,
    ILogger<SessionRoutingMiddleware> logger)
{
    private readonly bool _serverTiming = options.Value.ServerTiming;

    // A decision longer than the wait budget plus this is not the cluster's doing: the budget ends every wait on it.
    private static readonly TimeSpan OverrunTolerance = TimeSpan.FromMilliseconds(50);
    private readonly TimeSpan _overrunLimit = options.Value.ClusterWaitBudget + OverrunTolerance;
    private long _overruns; // decisions past the limit, since the last message about them (at most one a second)
    private long _overrunLoggedAt = long.MinValue;

    public async Task InvokeAsync(HttpContext context)
    {
        var proxy = context.GetReverseProxyFeature();
        var pool = pools.Find(proxy.Cluster.Config.ClusterId);
        if (pool is null)
        {
            await next(context);
            return;
        }

        var key = SessionKeyResult.None;
        if (pool.KeySource is { } source)
        {
            key = source.GetKey(context);
            if (key.Error is { } error)
            {
                await WriteProblemAsync(context, StatusCodes.Status400BadRequest, "Invalid session key", error);
                return;
            }
        }

        var requestKey = pool.Policy.RequestKey(context);
        RoutingDecision decision;
        var started = time.GetTimestamp();
        var pausedBefore = GC.GetTotalPauseDuration();
        using (var span = GatewayTelemetry.StartDecision(pool.Name))
        {
            var view = pool.View;
            decision = await resolver.ResolveAsync(pool, key, context.Connection.RemoteIpAddress, requestKey);
            GatewayTelemetry.Decided(span, decision, view, time);
        }

        var took = time.GetElapsedTime(started);
        if (took > _overrunLimit)
        {
            // The budget bounds every wait on the cluster, so what is left is this process: its thread pool's backlog
            // (continuations, the budget's own timer among them, queued behind other work), a GC pause, or the CPU it
            // did not get (a starved container or host). Say which, so an operator can tell.
            ReportOverrun(pool.Name, took, GC.GetTotalPauseDuration() - pausedBefore);
        }

        if (_serverTiming)
        {
            context.Response.Headers.Append("Server-Timing", string.Create(CultureInfo.InvariantCulture, $"route;dur={took.TotalMilliseconds:F1};desc=\"{GatewayTelemetry.Outcome(decision.Outcome)}\""));
        }

        var backend = decision.Backend;
        if (backend is { IsFull: true })
        {
            // The pinned backend is at its cluster-wide limit: this request goes where the policy sends it (the pin stays).
            backend = pool.Place(sessionKey: null, requestKey, resolver.Random, excludedId: backend.Id);
        }

        var destination = backend is null ? null : FindDestination(proxy, backend.Id);
        if (destination is null)
        {
            LogNoBackend(logger, pool.Name, decision.Backend?.Id);
            context.Response.Headers.RetryAfter = "1";
            var detail = decision.Backend is null ? $"Pool '{pool.Name}' has no usable backend right now." : $"Every backend of pool '{pool.Name}' is at its limit of requests in flight.";
            await WriteProblemAsync(context, StatusCodes.Status503ServiceUnavailable, "No backend available", detail);
            return;
        }

        pool.KeySource?.OnRouted(context, key, decision.Pin);
        if (!await ForwardAsync(context, proxy, pool, destination, backend!) && context.GetForwarderErrorFeature()?.Error is { } failure && pool.Retry.Allows(context, failure)
            && pool.Place(key.Key, requestKey, resolver.Random, excludedId: backend!.Id) is { } alternative
            && FindDestination(proxy, alternative.Id) is { } retryDestination)
        {
            // The backend failed and nothing was sent to the client: the request is retried once on another backend, as
            // the pool's retry settings allow (the pin is left alone; health decides whether it moves). A session's retry
            // goes where placement would re-pin it, so a later re-pin does not move it a second time.
            LogRetry(logger, pool.Name, backend.Id, failure, alternative.Id);
            telemetry.Retried(pool.Name, backend.Id);
            context.Features.Set<IForwarderErrorFeature>(null);
            context.Response.StatusCode = StatusCodes.Status200OK; // YARP set 502; headers such as an issued cookie stay
            await ForwardAsync(context, proxy, pool, retryDestination, alternative);
        }

        if (TlsFailure(context) is not null && !context.Response.HasStarted)
        {
            // YARP's 502 has no body; this one says what failed without the backend's details, which the log has.
            await WriteProblemAsync(context, StatusCodes.Status502BadGateway, "Bad gateway", "The gateway could not open a trusted TLS connection to the backend.");
        }
    }

    // At most one message a second, so a starved process is not also flooded with its own warnings.
    private void ReportOverrun(string pool, TimeSpan took, TimeSpan gcPause)
    {
        var overruns = Interlocked.Increment(ref _overruns);
        var last = Interlocked.Read(ref _overrunLoggedAt);
        var now = time.GetTimestamp();
        if ((last == long.MinValue || time.GetElapsedTime(last, now) >= TimeSpan.FromSeconds(1)) && Interlocked.CompareExchange(ref _overrunLoggedAt, now, last) == last)
        {
            Interlocked.Add(ref _overruns, -overruns);
            LogOverrun(logger, pool, took.TotalMilliseconds, (_overrunLimit - OverrunTolerance).TotalMilliseconds, gcPause.TotalMilliseconds, ThreadPool.PendingWorkItemCount, ThreadPool.ThreadCount, overruns);
        }
    }

    // Forwards through the rest of YARP's pipeline to one destination; true when the backend was reached.
    private async Task<bool> ForwardAsync(HttpContext context, IReverseProxyFeature proxy, PoolRuntime pool, DestinationState destination, BackendEntry backend)
    {
        proxy.AvailableDestinations = destination;
        backend.Counter.Begin();
        var failed = true;
        try
        {
            await next(context);
            failed = GatewayFailure.IsBackendFailure(context.GetForwarderErrorFeature()?.Error, context.Response.StatusCode);
        }
        finally
        {
            backend.Counter.End(failed); // also the request metrics
        }

        if (TlsFailure(context) is { } tls)
        {
            LogUntrustedBackend(logger, pool.Name, backend.Id, tls.Message, pool.Trust is null ? "the operating system's trust store" : $"Balancer:Pools:{pool.Name}:BackendTls:CaCertificatePath");
        }

        return context.GetForwarderErrorFeature()?.Error is not (ForwarderError.Request or ForwarderError.RequestTimedOut);
    }

    // The request's own destinations, then the cluster's current ones: a backend added moments ago (met through a
    // session pinned to it by another gateway) is in the latter once YARP applied the new configuration.
    private static DestinationState? FindDestination(IReverseProxyFeature proxy, string backendId) =>
        Find(proxy.AllDestinations, backendId) ?? (proxy.Route.Cluster?.DestinationsState.AllDestinations is { } current ? Find(current, backendId) : null);

    private static DestinationState? Find(IReadOnlyList<DestinationState> destinations, string backendId)
    {
        foreach (var destination in destinations)
        {
            if (string.Equals(destination.DestinationId, backendId, StringComparison.Ordinal))
            {
                return destination;
            }
        }

        return null;
    }

    // The TLS handshake with the backend failed (its certificate was not trusted, or did not name its host).
    private static AuthenticationException? TlsFailure(HttpContext context)
    {
        for (var error = context.GetForwarderErrorFeature()?.Exception; error is not null; error = error.InnerException)
        {
            if (error is AuthenticationException tls)
            {
                return tls;
            }
        }

        return null;
    }

    private static Task WriteProblemAsync(HttpContext context, int status, string title, string detail) =>
        Results.Problem(statusCode: status, title: title, detail: detail).ExecuteAsync(context);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Pool {Pool}: backend {Backend} failed ({Error}) before answering; retrying the request once on {Alternative}.")]
    private static partial void LogRetry(ILogger logger, string pool, string backend, ForwarderError error, string alternative);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "Pool {Pool}: TLS to backend {Backend} failed ({Reason}); its certificate must chain to an authority in {Trust} and name the host of the backend's address.")]
    private static partial void LogUntrustedBackend(ILogger logger, string pool, string backend, string reason, string trust);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "Pool {Pool}: a routing decision took {Took:F0} ms, past its wait budget of {Budget:F0} ms; the cluster waits are bounded by it, so the rest was this process: GC paused it {GcPause:F0} ms meanwhile, {Queued} work items wait for its thread pool of {Threads} threads, and any remainder is CPU it was not given (a starved host or container). {Overruns} decision(s) overran since the last such message.")]
    private static partial void LogOverrun(ILogger logger, string pool, double took, double budget, double gcPause, long queued, int threads, long overruns);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Pool {Pool}: no usable backend (decided {Backend}); answered 503.")]
    private static partial void LogNoBackend(ILogger logger, string pool, string? backend);
}
