using Distributed.Gateway.Pinning;
using Distributed.Gateway.Pools;
using Yarp.ReverseProxy.Model;

namespace Distributed.Gateway.Routing;

/// <summary>
/// A step of YARP's proxy pipeline: decides the one destination of the request (the session's pin, or the
/// least-loaded backend) and narrows <see cref="IReverseProxyFeature.AvailableDestinations"/> to it, so YARP's own
/// forwarder sends the request there. Counts the request in flight for the cluster-wide load figures.
/// </summary>
internal sealed partial class SessionRoutingMiddleware(RequestDelegate next, PoolRegistry pools, SessionPinResolver resolver, ILogger<SessionRoutingMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var proxy = context.GetReverseProxyFeature();
        var pool = pools.Find(proxy.Cluster.Config.ClusterId);
        if (pool is null)
        {
            await next(context);
            return;
        }

        string? key = null;
        var isNew = false;
        if (pool.KeySource is { } source)
        {
            var result = source.GetKey(context);
            if (result.Error is { } error)
            {
                await WriteProblemAsync(context, StatusCodes.Status400BadRequest, "Invalid session key", error);
                return;
            }

            (key, isNew) = (result.Key, result.IsNew);
        }

        var decision = await resolver.ResolveAsync(pool, key, isNew);
        var destination = decision.Backend is { } backend ? FindDestination(proxy, backend.Id) : null;
        if (destination is null)
        {
            LogNoBackend(logger, pool.Name, decision.Backend?.Id);
            context.Response.Headers.RetryAfter = "1";
            await WriteProblemAsync(context, StatusCodes.Status503ServiceUnavailable, "No backend available", $"Pool '{pool.Name}' has no usable backend right now.");
            return;
        }

        proxy.AvailableDestinations = destination;
        var counter = decision.Backend!.Counter;
        counter.Begin();
        try
        {
            await next(context);
        }
        finally
        {
            counter.End();
        }
    }

    private static DestinationState? FindDestination(IReverseProxyFeature proxy, string backendId)
    {
        foreach (var destination in proxy.AllDestinations)
        {
            if (string.Equals(destination.DestinationId, backendId, StringComparison.Ordinal))
            {
                return destination;
            }
        }

        return null;
    }

    private static Task WriteProblemAsync(HttpContext context, int status, string title, string detail) =>
        Results.Problem(statusCode: status, title: title, detail: detail).ExecuteAsync(context);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Pool {Pool}: no usable backend (decided {Backend}); answered 503.")]
    private static partial void LogNoBackend(ILogger logger, string pool, string? backend);
}
