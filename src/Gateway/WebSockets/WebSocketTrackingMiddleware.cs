using Microsoft.AspNetCore.Http.Features;

namespace Distributed.Gateway.WebSockets;

/// <summary>How a WebSocket request arrives: an HTTP/1.1 upgrade, or an HTTP/2 extended CONNECT (RFC 8441).</summary>
internal static class WebSocketRequest
{
    private const string Protocol = "websocket";

    /// <summary>The server's upgrade feature when <paramref name="context"/> is an HTTP/1.1 WebSocket upgrade.</summary>
    public static IHttpUpgradeFeature? Upgrade(HttpContext context) =>
        string.Equals(context.Request.Headers.Upgrade.ToString(), Protocol, StringComparison.OrdinalIgnoreCase)
        && context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgrade
            ? upgrade
            : null;

    /// <summary>The server's extended CONNECT feature when <paramref name="context"/> is a WebSocket over HTTP/2.</summary>
    public static IHttpExtendedConnectFeature? ExtendedConnect(HttpContext context) =>
        context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true } connect
        && string.Equals(connect.Protocol, Protocol, StringComparison.OrdinalIgnoreCase)
            ? connect
            : null;

    /// <summary>Whether <paramref name="context"/> opens a WebSocket, over HTTP/1.1 or HTTP/2.</summary>
    public static bool Is(HttpContext context) => Upgrade(context) is not null || ExtendedConnect(context) is not null;
}

/// <summary>
/// A step of the proxy pipeline after the routing decision: a WebSocket is registered with its backend, and the stream
/// YARP gets for the client side (from the upgrade or the extended CONNECT, whichever the request used) is one the
/// gateway can close with a close frame, as YARP's own WebSocket telemetry wraps <see cref="IHttpUpgradeFeature"/>.
/// The request stays in flight on its backend, counted by the routing step, until the tunnel ends.
/// </summary>
internal sealed class WebSocketTrackingMiddleware(RequestDelegate next, WebSocketRegistry registry)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var upgrade = WebSocketRequest.Upgrade(context);
        var connect = upgrade is null ? WebSocketRequest.ExtendedConnect(context) : null;
        var proxy = context.GetReverseProxyFeature();
        if ((upgrade is null && connect is null) || proxy.AvailableDestinations is not [var destination])
        {
            await next(context);
            return;
        }

        using var socket = registry.Register(proxy.Cluster.Config.ClusterId, destination.DestinationId, context);
        if (upgrade is not null)
        {
            context.Features.Set<IHttpUpgradeFeature>(new ClosableUpgradeFeature(upgrade, socket));
        }
        else
        {
            context.Features.Set<IHttpExtendedConnectFeature>(new ClosableExtendedConnectFeature(connect!, socket));
        }

        try
        {
            await next(context);
        }
        finally
        {
            // A retry on another backend starts from the server's own features.
            if (upgrade is not null)
            {
                context.Features.Set(upgrade);
            }
            else
            {
                context.Features.Set(connect);
            }
        }
    }

    private sealed class ClosableUpgradeFeature(IHttpUpgradeFeature inner, OpenWebSocket socket) : IHttpUpgradeFeature
    {
        public bool IsUpgradableRequest => inner.IsUpgradableRequest;

        public async Task<Stream> UpgradeAsync() => socket.Attach(await inner.UpgradeAsync());
    }

    private sealed class ClosableExtendedConnectFeature(IHttpExtendedConnectFeature inner, OpenWebSocket socket) : IHttpExtendedConnectFeature
    {
        public bool IsExtendedConnect => inner.IsExtendedConnect;

        public string? Protocol => inner.Protocol;

        public async ValueTask<Stream> AcceptAsync() => socket.Attach(await inner.AcceptAsync());
    }
}
