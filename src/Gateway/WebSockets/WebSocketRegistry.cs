using System.Collections.Concurrent;
using System.Net.WebSockets;

namespace Distributed.Gateway.WebSockets;

/// <summary>
/// One WebSocket proxied by this gateway, from the routing decision until its tunnel ends. It stays in flight on its
/// backend for all that time (the routing step counts the request until YARP returns), including while a close it was
/// sent is being answered.
/// </summary>
internal sealed partial class OpenWebSocket : IDisposable
{
    /// <summary>How long a closed WebSocket may take to finish its close handshake before its tunnel is aborted.</summary>
    public static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(5);

    private readonly WebSocketRegistry _registry;
    private readonly HttpContext _context;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebSocketCloseStream? _stream;
    private (WebSocketCloseStatus Status, string Reason)? _close;

    internal OpenWebSocket(WebSocketRegistry registry, string pool, string backend, HttpContext context, TimeProvider time, ILogger logger)
    {
        _registry = registry;
        Pool = pool;
        Backend = backend;
        _context = context;
        _time = time;
        _logger = logger;
    }

    /// <summary>The pool it was routed in.</summary>
    public string Pool { get; }

    /// <summary>The backend it is proxied to.</summary>
    public string Backend { get; }

    /// <summary>Whether a close was asked for (it may still be under way).</summary>
    public bool Closing
    {
        get
        {
            lock (_gate)
            {
                return _close is not null;
            }
        }
    }

    /// <summary>
    /// Closes the WebSocket: the client gets a close frame with <paramref name="status"/> and <paramref name="reason"/>
    /// at the next frame boundary (at once if the upgrade is still under way when it completes), and the tunnel is
    /// aborted if its close handshake has not ended it <see cref="CloseGrace"/> later. Returns false when it was
    /// closing already or has ended.
    /// </summary>
    public bool Close(WebSocketCloseStatus status, string reason)
    {
        WebSocketCloseStream? stream;
        lock (_gate)
        {
            if (_close is not null || _ended.Task.IsCompleted)
            {
                return false;
            }

            _close = (status, reason);
            stream = _stream;
        }

        if (stream is not null)
        {
            _ = CloseAsync(stream, status, reason);
        }

        return true;
    }

    /// <summary>The tunnel ended: forgets the WebSocket.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _ended.TrySetResult();
        }

        _registry.Remove(this);
    }

    /// <summary>Wraps the client side of the tunnel once the upgrade (or extended CONNECT) is accepted.</summary>
    internal Stream Attach(Stream client)
    {
        var stream = new WebSocketCloseStream(client);
        (WebSocketCloseStatus Status, string Reason)? close;
        lock (_gate)
        {
            _stream = stream;
            close = _close;
        }

        if (close is { } due)
        {
            _ = CloseAsync(stream, due.Status, due.Reason);
        }

        return stream;
    }

    private async Task CloseAsync(WebSocketCloseStream stream, WebSocketCloseStatus status, string reason)
    {
        using var grace = new CancellationTokenSource(CloseGrace, _time);
        try
        {
            await stream.CloseAsync(status, reason, grace.Token);
            await _ended.Task.WaitAsync(grace.Token);
            return;
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or IOException)
        {
            // The grace ran out, or the client went away meanwhile: abort what is left below.
        }

        // Under the lock, so a tunnel that ended meanwhile is never aborted: its HttpContext may serve another request.
        lock (_gate)
        {
            if (_ended.Task.IsCompleted)
            {
                return;
            }

            _context.Abort();
        }

        LogAborted(_logger, Pool, Backend, CloseGrace);
    }

    [LoggerMessage(EventId = 3011, Level = LogLevel.Information, Message = "Pool {Pool}: a WebSocket to {Backend} did not finish its close handshake within {Grace} of its close frame; its connection was aborted.")]
    private static partial void LogAborted(ILogger logger, string pool, string backend, TimeSpan grace);
}

/// <summary>
/// The WebSockets this gateway proxies, HTTP/1.1 upgrades and HTTP/2 extended CONNECTs alike, so they can be closed
/// with a close frame: those of a backend that no longer keeps sessions (<see cref="WebSocketDrainCloser"/>), and all
/// of them when the gateway shuts down (<see cref="CloseAll"/>).
/// </summary>
internal sealed class WebSocketRegistry(TimeProvider time, ILogger<WebSocketRegistry> logger)
{
    private readonly ConcurrentDictionary<OpenWebSocket, byte> _open = new();
    private volatile CloseRequest? _closingAll;

    /// <summary>The WebSockets open now (routed, possibly still upgrading).</summary>
    public ICollection<OpenWebSocket> Open => _open.Keys;

    /// <summary>Registers a WebSocket routed to <paramref name="backend"/> of <paramref name="pool"/>; dispose it when its tunnel ends.</summary>
    public OpenWebSocket Register(string pool, string backend, HttpContext context)
    {
        var socket = new OpenWebSocket(this, pool, backend, context, time, logger);
        _open.TryAdd(socket, 0);
        if (_closingAll is { } close)
        {
            socket.Close(close.Status, close.Reason); // registered while the gateway closes them all
        }

        return socket;
    }

    /// <summary>
    /// Closes every WebSocket, and every one registered from now on, with <paramref name="status"/> and
    /// <paramref name="reason"/>; returns how many were open and not closing already.
    /// </summary>
    public int CloseAll(WebSocketCloseStatus status, string reason)
    {
        _closingAll = new CloseRequest(status, reason);
        var closed = 0;
        foreach (var socket in Open)
        {
            closed += socket.Close(status, reason) ? 1 : 0;
        }

        return closed;
    }

    internal void Remove(OpenWebSocket socket) => _open.TryRemove(socket, out _);

    private sealed record CloseRequest(WebSocketCloseStatus Status, string Reason);
}
