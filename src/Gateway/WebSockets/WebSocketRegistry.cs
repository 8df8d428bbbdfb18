using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http.Features;
using Yarp.ReverseProxy.Model;

namespace Distributed.Gateway.WebSockets;

/// <summary>One WebSocket proxied by this gateway, open now.</summary>
internal sealed class OpenWebSocket(string pool, string backend, HttpContext context)
{
    public string Pool { get; } = pool;

    public string Backend { get; } = backend;

    public HttpContext Context { get; } = context;

    /// <summary>The client side of the tunnel, once upgraded.</summary>
    public WebSocketCloseStream? Stream { get; set; }
}

/// <summary>The WebSockets this gateway has open, by connection, so they can be closed when their backend stops keeping sessions.</summary>
internal sealed class WebSocketRegistry
{
    private readonly ConcurrentDictionary<OpenWebSocket, byte> _open = new();

    public ICollection<OpenWebSocket> Open => _open.Keys;

    public void Add(OpenWebSocket socket) => _open.TryAdd(socket, 0);

    public void Remove(OpenWebSocket socket) => _open.TryRemove(socket, out _);
}

/// <summary>
/// A step of the proxy pipeline after the routing decision: a WebSocket upgrade is registered with its backend, and the
/// stream YARP gets for the client side is one the gateway can close with a close frame (the same way YARP's own
/// WebSocket telemetry wraps <see cref="IHttpUpgradeFeature"/>). The request stays in flight on its backend, counted
/// by the routing step, for as long as the tunnel is open. WebSockets over HTTP/2 (extended CONNECT) are proxied and
/// counted but not wrapped: on drain they end when the backend or the client ends them.
/// </summary>
internal sealed class WebSocketTrackingMiddleware(RequestDelegate next, WebSocketRegistry registry)
{
    // Not async itself: every other request passes straight through, without a state machine of its own.
    public Task InvokeAsync(HttpContext context)
    {
        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        return upgrade is not { IsUpgradableRequest: true }
            || !string.Equals(context.Request.Headers.Upgrade.ToString(), "websocket", StringComparison.OrdinalIgnoreCase)
            || context.GetReverseProxyFeature().AvailableDestinations is not [var destination]
            ? next(context)
            : TrackAsync(context, upgrade, destination);
    }

    private async Task TrackAsync(HttpContext context, IHttpUpgradeFeature upgrade, DestinationState destination)
    {
        var socket = new OpenWebSocket(context.GetReverseProxyFeature().Cluster.Config.ClusterId, destination.DestinationId, context);
        context.Features.Set<IHttpUpgradeFeature>(new ClosableUpgradeFeature(upgrade, socket));
        registry.Add(socket);
        try
        {
            await next(context);
        }
        finally
        {
            registry.Remove(socket);
            context.Features.Set(upgrade); // a retry on another backend starts from the server's own feature
        }
    }

    private sealed class ClosableUpgradeFeature(IHttpUpgradeFeature inner, OpenWebSocket socket) : IHttpUpgradeFeature
    {
        public bool IsUpgradableRequest => inner.IsUpgradableRequest;

        public async Task<Stream> UpgradeAsync()
        {
            var stream = new WebSocketCloseStream(await inner.UpgradeAsync());
            socket.Stream = stream;
            return stream;
        }
    }
}
