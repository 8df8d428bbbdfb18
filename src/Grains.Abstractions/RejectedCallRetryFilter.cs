using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;

namespace Distributed.Grains.Abstractions;

/// <summary>
/// For Orleans clients (the gateways): sends a grain call again, after a short pause, when the cluster rejected it
/// before running it, as a silo leaving gracefully does ("Silo stopping") until every silo has noticed it left. A
/// rejected call never ran, so sending it again is safe whatever the method. Each pause doubles from
/// <see cref="FirstPause"/>; it stops after <see cref="MaxAttempts"/> attempts or when the call's own cancellation token
/// fires, so the caller's time budget still bounds the call. A call whose silo died under it
/// (<see cref="SiloUnavailableException"/>) may have run and is not sent again.
/// </summary>
public sealed partial class RejectedCallRetryFilter(TimeProvider time, ILogger<RejectedCallRetryFilter> logger) : IOutgoingGrainCallFilter
{
    /// <summary>Attempts per call, the first included: pauses of 20, 40, 80, 160 and 320 ms between them.</summary>
    public const int MaxAttempts = 6;

    /// <summary>The pause before the first resend.</summary>
    public static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(20);

    /// <inheritdoc />
    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var cancellation = context.Request.GetCancellationToken();
        var pause = FirstPause;
        for (var attempt = 1; ; attempt++)
        {
            ExceptionDispatchInfo? thrown = null;
            try
            {
                await context.Invoke();
            }
            catch (OrleansMessageRejectionException ex)
            {
                thrown = ExceptionDispatchInfo.Capture(ex);
            }

            var rejection = thrown?.SourceException ?? context.Response?.Exception;
            if (rejection is not OrleansMessageRejectionException || rejection is SiloUnavailableException
                || attempt == MaxAttempts || cancellation.IsCancellationRequested)
            {
                thrown?.Throw();
                return;
            }

            LogResending(logger, context.InterfaceName, context.MethodName, attempt, pause, rejection.Message);
            try
            {
                await Task.Delay(pause, time, cancellation);
            }
            catch (OperationCanceledException)
            {
                thrown?.Throw();
                return;
            }

            pause *= 2;
        }
    }

    [LoggerMessage(EventId = 8001, Level = LogLevel.Information, Message = "{Interface}.{Method} was rejected before it ran (attempt {Attempt}: {Reason}); sending it again in {Pause}.")]
    private static partial void LogResending(ILogger logger, string @interface, string method, int attempt, TimeSpan pause, string reason);
}
