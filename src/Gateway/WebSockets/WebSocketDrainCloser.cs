using System.Net.WebSockets;
using Distributed.Gateway.Configuration;
using Distributed.Gateway.Pools;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.WebSockets;

/// <summary>
/// Closes this gateway's open WebSockets whose backend no longer keeps sessions: drained past its deadline, unhealthy
/// (outside panic) or removed, as the pool's snapshot says, checked every report interval. The client gets a close
/// frame (1001, going away) between two of the backend's frames and reconnects, which places it again; the tunnel is
/// aborted if it is still open <see cref="OpenWebSocket.CloseGrace"/> later (the close handshake normally ends it first).
/// </summary>
internal sealed partial class WebSocketDrainCloser(
    WebSocketRegistry registry,
    PoolRegistry pools,
    TimeProvider time,
    IOptions<BalancerOptions> options,
    ILogger<WebSocketDrainCloser> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ReportInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                foreach (var socket in registry.Open)
                {
                    if (!socket.Closing && Reason(socket) is { } reason && socket.Close(WebSocketCloseStatus.EndpointUnavailable, reason))
                    {
                        LogClosing(logger, socket.Pool, socket.Backend, reason);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private string? Reason(OpenWebSocket socket) => pools.Find(socket.Pool)?.View.Find(socket.Backend) switch
    {
        null => "backend removed",
        { KeepsSessions: true } => null,
        { Backend.State: Grains.Abstractions.BackendState.Draining } => "backend drained",
        _ => "backend unhealthy",
    };

    [LoggerMessage(EventId = 3010, Level = LogLevel.Information, Message = "Pool {Pool}: closing a WebSocket to {Backend} ({Reason}); the client gets a close frame and reconnects elsewhere.")]
    private static partial void LogClosing(ILogger logger, string pool, string backend, string reason);
}
