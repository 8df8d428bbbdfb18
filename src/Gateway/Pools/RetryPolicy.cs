using System.Collections.Frozen;
using Distributed.Gateway.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace Distributed.Gateway.Pools;

/// <summary>
/// Whether a forwarded request that failed may be sent once more to another backend (<see cref="RetryOptions"/>):
/// only when nothing of the response reached the client, the request has no body (it was streamed to the first backend
/// and is gone), its method is listed and its failure is one the pool retries.
/// </summary>
internal sealed class RetryPolicy
{
    private readonly bool _enabled;
    private readonly RetryOn _on;
    private readonly FrozenSet<string> _methods;

    public RetryPolicy(RetryOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _enabled = options.Enabled && options.On != RetryOn.None;
        _on = options.On;
        _methods = options.EffectiveMethods.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Whether the request of <paramref name="context"/>, which failed with <paramref name="error"/>, may be retried.</summary>
    public bool Allows(HttpContext context, ForwarderError error)
    {
        ArgumentNullException.ThrowIfNull(context);
        var request = context.Request;
        return _enabled
            && !context.Response.HasStarted
            && error switch
            {
                ForwarderError.Request => (_on & RetryOn.Unreachable) != 0,
                ForwarderError.RequestTimedOut => (_on & RetryOn.Timeout) != 0,
                _ => false,
            }
            && _methods.Contains(request.Method)
            && request.ContentLength is null or 0
            && !request.Headers.ContainsKey("Transfer-Encoding");
    }
}
