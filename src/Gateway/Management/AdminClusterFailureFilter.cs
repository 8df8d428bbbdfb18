using Orleans.Serialization;
using StackExchange.Redis;

namespace Distributed.Gateway.Management;

/// <summary>
/// Answers an admin call whose grain call failed because the cluster or its store could not serve it (no silo reachable,
/// a call past Orleans' response timeout, a store write that failed) with 503 and <c>Retry-After</c>, naming the
/// failure: the operator learns the change was not made and may be repeated, not that the gateway has a bug (500).
/// Every admin operation is safe to repeat: each is one grain call that validates, persists, then applies.
/// </summary>
internal sealed partial class AdminClusterFailureFilter(ILogger<AdminClusterFailureFilter> logger) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        try
        {
            return await next(context);
        }
        catch (Exception ex) when (IsClusterFailure(ex) && !context.HttpContext.RequestAborted.IsCancellationRequested)
        {
            var http = context.HttpContext;
            LogFailed(logger, http.Request.Method, http.Request.Path, ex);
            http.Response.Headers.RetryAfter = "1";
            return AdminApi.Problem(
                StatusCodes.Status503ServiceUnavailable,
                "Cluster unavailable",
                $"The cluster could not complete the call ({ex.GetType().Name}: {ex.Message}); nothing was changed unless a later read shows it. Retry.");
        }
    }

    /// <summary>
    /// Failures of the cluster or its store, as a grain call surfaces them: Orleans' own (unreachable or unavailable
    /// silos, rejected messages, inconsistent state), its response timeout, a Redis error from the silo's storage,
    /// and an exception type the gateway cannot deserialize.
    /// </summary>
    internal static bool IsClusterFailure(Exception ex) =>
        ex is TimeoutException or OrleansException or RedisException or UnavailableExceptionFallbackException;

    [LoggerMessage(EventId = 9010, Level = LogLevel.Warning, Message = "Admin call {Method} {Path} failed in the cluster; answered 503.")]
    private static partial void LogFailed(ILogger logger, string method, string path, Exception exception);
}
