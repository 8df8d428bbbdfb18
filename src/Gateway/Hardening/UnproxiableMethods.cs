using Microsoft.AspNetCore.Http.Features;

namespace Distributed.Gateway.Hardening;

/// <summary>
/// Refuses methods YARP cannot forward before any routing decision is made: a <c>CONNECT</c> tunnel (this gateway is a
/// reverse proxy, not a forward proxy) gets 405 with <c>Allow</c>, instead of taking a session and a backend slot and
/// ending as a gateway-made 5xx. HTTP/2 extended CONNECT (WebSockets over HTTP/2) is proxied as usual.
/// </summary>
internal static class UnproxiableMethods
{
    private const string Allowed = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

    /// <summary>Whether a request with this method can be forwarded to a backend.</summary>
    public static bool CanProxy(string method, bool isExtendedConnect) => !HttpMethods.IsConnect(method) || isExtendedConnect;

    /// <summary>Adds the refusal as its own step of the pipeline.</summary>
    public static IApplicationBuilder UseUnproxiableMethodRefusal(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        if (CanProxy(context.Request.Method, context.Features.Get<IHttpExtendedConnectFeature>()?.IsExtendedConnect == true))
        {
            return next(context);
        }

        context.Response.Headers.Allow = Allowed;
        return Results.Problem(
            statusCode: StatusCodes.Status405MethodNotAllowed,
            title: "Method not allowed",
            detail: $"{context.Request.Method} is not proxied: this gateway forwards requests to its pools' backends and opens no tunnels.").ExecuteAsync(context);
    });
}
