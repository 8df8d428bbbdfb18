using Yarp.ReverseProxy.Forwarder;

namespace Distributed.Gateway.Routing;

/// <summary>
/// Which outcomes of a forwarded request count against the backend in passive health: gateway failures only, as
/// Envoy's <c>consecutive_gateway_failure</c> — the backend could not be reached or did not answer (a transport error
/// or timeout), or it answered 502, 503 or 504. A 500 or any other status is the application's own answer, which a
/// client can provoke at will; counting it would let one client eject a backend and move everyone's sessions. A client
/// that went away is not the backend's fault either.
/// </summary>
internal static class GatewayFailure
{
    /// <summary>
    /// Whether the outcome is a gateway failure of the backend: <paramref name="error"/> is YARP's forwarding error
    /// (<c>null</c> when the backend answered), <paramref name="statusCode"/> the response status.
    /// </summary>
    public static bool IsBackendFailure(ForwarderError? error, int statusCode) => error switch
    {
        null or ForwarderError.None => statusCode is StatusCodes.Status502BadGateway or StatusCodes.Status503ServiceUnavailable or StatusCodes.Status504GatewayTimeout,
        ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled or ForwarderError.ResponseBodyCanceled
            or ForwarderError.RequestBodyClient or ForwarderError.ResponseBodyClient => false,

        // A WebSocket tunnel the client left, that sat idle past its activity timeout, or that the gateway aborted
        // after closing it (drain deadline, shutdown): the backend did nothing wrong.
        ForwarderError.UpgradeRequestCanceled or ForwarderError.UpgradeResponseCanceled
            or ForwarderError.UpgradeRequestClient or ForwarderError.UpgradeResponseClient or ForwarderError.UpgradeActivityTimeout => false,
        _ => true,
    };
}
