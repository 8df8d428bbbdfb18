using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Shutdown;

/// <summary>
/// The gateway's shutdown in phases, on the host's own lifecycle. SIGTERM fires
/// <see cref="IHostApplicationLifetime.ApplicationStopping"/>: from then on <c>/readyz</c> answers 503 and every response
/// closes its connection (<see cref="IsDraining"/>). The host then calls <see cref="StoppingAsync"/> before it stops any
/// service, so the web server keeps serving for <see cref="ShutdownOptions.DrainPeriod"/>; when that ends,
/// <see cref="Closing"/> tells proxied WebSockets to close, and the host stops Kestrel, which stops accepting and lets
/// in-flight requests finish within the host's shutdown timeout. Services registered before the web server (the load
/// reporter, the Orleans client) stop after it, so requests in flight keep reaching the cluster to the end.
/// </summary>
internal sealed partial class GracefulShutdown(
    IHostApplicationLifetime lifetime,
    IOptions<ShutdownOptions> options,
    TimeProvider time,
    ILogger<GracefulShutdown> logger) : IHostedLifecycleService, IDisposable
{
    private readonly CancellationTokenSource _closing = new();

    /// <summary>True from SIGTERM on: the gateway is leaving rotation and closes every connection after its response.</summary>
    public bool IsDraining => lifetime.ApplicationStopping.IsCancellationRequested;

    /// <summary>Cancelled when the drain period is over and the listeners close: upgraded connections say goodbye.</summary>
    public CancellationToken Closing => _closing.Token;

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

        LogClosing(logger);
        await _closing.CancelAsync();
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

    /// <inheritdoc />
    public void Dispose() => _closing.Dispose();

    [LoggerMessage(EventId = 7001, Level = LogLevel.Information, Message = "Shutting down: draining for {DrainPeriod}; /readyz answers 503 and every response closes its connection.")]
    private static partial void LogDraining(ILogger logger, TimeSpan drainPeriod);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Information, Message = "Drain over: no new connections; requests in flight finish within the host's shutdown timeout; WebSockets are closed with 1001 (going away).")]
    private static partial void LogClosing(ILogger logger);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Warning, Message = "The host's shutdown timeout ran out during the drain; closing now.")]
    private static partial void LogDrainCut(ILogger logger);
}
