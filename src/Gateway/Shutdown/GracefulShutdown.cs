using System.Net.WebSockets;
using Distributed.Gateway.WebSockets;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Shutdown;

/// <summary>
/// The gateway's shutdown in phases, on the host's own lifecycle. SIGTERM fires
/// <see cref="IHostApplicationLifetime.ApplicationStopping"/>: from then on <c>/readyz</c> answers 503 and every response
/// closes its connection (<see cref="IsDraining"/>). The host then calls <see cref="StoppingAsync"/> before it stops any
/// service, so the web server keeps serving for <see cref="ShutdownOptions.DrainPeriod"/>; when that ends, every proxied
/// WebSocket gets a close frame (1001, <see cref="WebSocketReason"/>) from the <see cref="WebSocketRegistry"/>, and the
/// host stops Kestrel, which stops accepting and lets in-flight requests (WebSockets finishing their close handshake
/// among them) finish within the host's shutdown timeout. Services registered before the web server (the load
/// reporter, the Orleans client) stop after it, so requests in flight keep reaching the cluster to the end.
/// </summary>
internal sealed partial class GracefulShutdown(
    IHostApplicationLifetime lifetime,
    IOptions<ShutdownOptions> options,
    WebSocketRegistry webSockets,
    TimeProvider time,
    ILogger<GracefulShutdown> logger) : IHostedLifecycleService
{
    /// <summary>The reason in the close frame proxied WebSockets get when the drain is over.</summary>
    public const string WebSocketReason = "gateway shutting down";

    /// <summary>True from SIGTERM on: the gateway is leaving rotation and closes every connection after its response.</summary>
    public bool IsDraining => lifetime.ApplicationStopping.IsCancellationRequested;

    /// <inheritdoc />
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        var drain = options.Value.DrainPeriod;
        LogDraining(logger, drain);
        try
        {
            await Task.Delay(drain, time, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown timeout ran out first (validated against at start-up, so only when stopped early).
            LogDrainCut(logger);
        }

        var closed = webSockets.CloseAll(WebSocketCloseStatus.EndpointUnavailable, WebSocketReason);
        LogClosing(logger, closed);
    }

    /// <inheritdoc />
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 7001, Level = LogLevel.Information, Message = "Shutting down: draining for {DrainPeriod}; /readyz answers 503 and every response closes its connection.")]
    private static partial void LogDraining(ILogger logger, TimeSpan drainPeriod);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Information, Message = "Drain over: no new connections; requests in flight finish within the host's shutdown timeout; {WebSockets} open WebSocket(s) get a close frame (1001, going away).")]
    private static partial void LogClosing(ILogger logger, int webSockets);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Warning, Message = "The host's shutdown timeout ran out during the drain; closing now.")]
    private static partial void LogDrainCut(ILogger logger);
}
