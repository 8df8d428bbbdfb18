using Distributed.Grains.Abstractions;
using Microsoft.Extensions.Logging;

namespace Distributed.Grains.Pools;

/// <summary>
/// The pool grain's log, in one table of event ids: every state transition passes through <see cref="Raise(PoolEvent?)"/>,
/// which also hands it to <paramref name="raised"/> (the pool's event history), and storage trouble is logged once when it
/// starts and once when it ends.
/// </summary>
public sealed partial class PoolLog(ILogger logger, string pool, Action<PoolEvent>? raised = null)
{
    /// <summary>Logs one transition and passes it on (nothing for <c>null</c>).</summary>
    public void Raise(PoolEvent? transition)
    {
        if (transition is null)
        {
            return;
        }

        raised?.Invoke(transition);
        switch (transition)
        {
            case { Kind: PoolEventKind.BackendAdded }:
                LogBackendAdded(logger, pool, transition.Backend, transition.Detail, transition.Actor);
                break;
            case { Kind: PoolEventKind.BackendChanged }:
                LogBackendChanged(logger, pool, transition.Backend, transition.Detail, transition.Actor);
                break;
            case { Kind: PoolEventKind.BackendRemoved }:
                LogBackendRemoved(logger, pool, transition.Backend, transition.Actor);
                break;
            case { Kind: PoolEventKind.DrainStarted }:
                LogDrainStarted(logger, pool, transition.Backend, transition.Until, transition.Actor);
                break;
            case { Kind: PoolEventKind.DrainCancelled }:
                LogDrainCancelled(logger, pool, transition.Backend, transition.Actor);
                break;
            case { Kind: PoolEventKind.DrainFinished }:
                LogDrainFinished(logger, pool, transition.Backend, transition.Until);
                break;
            case { Kind: PoolEventKind.Unhealthy }:
                LogUnhealthy(logger, pool, transition.Backend);
                break;
            case { Kind: PoolEventKind.Healthy }:
                LogHealthy(logger, pool, transition.Backend);
                break;
            case { Kind: PoolEventKind.Ejected }:
                LogEjected(logger, pool, transition.Backend, transition.Until, transition.Count);
                break;
            case { Kind: PoolEventKind.Readmitted }:
                LogReadmitted(logger, pool, transition.Backend);
                break;
            case { Kind: PoolEventKind.PanicEntered }:
                LogPanicEntered(logger, pool, transition.Count, transition.Of);
                break;
            case { Kind: PoolEventKind.PanicLeft }:
                LogPanicLeft(logger, pool, transition.Count, transition.Of);
                break;
        }
    }

    /// <summary>Logs every transition of <paramref name="transitions"/>.</summary>
    public void Raise(IEnumerable<PoolEvent> transitions)
    {
        ArgumentNullException.ThrowIfNull(transitions);
        foreach (var transition in transitions)
        {
            Raise(transition);
        }
    }

    /// <summary>The first failed background write of an outage.</summary>
    public void StoreFailing(Exception exception, TimeSpan retry) => LogStoreFailing(logger, pool, retry, exception);

    /// <summary>The first successful background write after an outage.</summary>
    public void StoreRecovered(int failures, TimeSpan outage) => LogStoreRecovered(logger, pool, failures, outage);

    /// <summary>An admin change was refused because the store refused it.</summary>
    public void AdminChangeNotStored(Exception exception) => LogAdminChangeNotStored(logger, pool, exception);

    /// <summary>The stored record vanished (the store lost its data) while this activation held the catalog.</summary>
    public void StoredStateVanished() => LogStoredStateVanished(logger, pool);

    /// <summary>The sessions pinned to an event's backend could not be counted; the event is kept without the count.</summary>
    public void SessionsNotCounted(PoolEventKind kind, string? backend, Exception exception) => LogSessionsNotCounted(logger, pool, kind, backend, exception);

    /// <summary>Another activation of the pool stored the catalog first (a duplicate activation).</summary>
    public void StoredByAnotherActivation(long version) => LogStoredByAnotherActivation(logger, pool, version);

    [LoggerMessage(EventId = 5101, Level = LogLevel.Warning, Message = "Pool {Pool}: the store refuses writes; keeps-sessions changes wait in memory (gateways see them once stored) and are retried in {Retry}, backing off. Admin changes are refused meanwhile.")]
    private static partial void LogStoreFailing(ILogger logger, string pool, TimeSpan retry, Exception exception);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Information, Message = "Pool {Pool}: the store takes writes again, after {Failures} failed attempt(s) over {Outage}.")]
    private static partial void LogStoreRecovered(ILogger logger, string pool, int failures, TimeSpan outage);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Error, Message = "Pool {Pool}: its stored state vanished (the store lost its data, e.g. Redis restarted empty); writing back the catalog this silo holds in memory. Check the store's persistence.")]
    private static partial void LogStoredStateVanished(ILogger logger, string pool);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Warning, Message = "Pool {Pool}: another activation stored the catalog first (version {Version}); adopting it and applying the change again on top.")]
    private static partial void LogStoredByAnotherActivation(ILogger logger, string pool, long version);

    [LoggerMessage(EventId = 5105, Level = LogLevel.Warning, Message = "Pool {Pool}: an admin change was not stored, so it was not applied.")]
    private static partial void LogAdminChangeNotStored(ILogger logger, string pool, Exception exception);

    [LoggerMessage(EventId = 5106, Level = LogLevel.Debug, Message = "Pool {Pool}: could not count the sessions pinned to backend {Backend} for its {Kind} event; the event is kept without the count.")]
    private static partial void LogSessionsNotCounted(ILogger logger, string pool, PoolEventKind kind, string? backend, Exception exception);

    [LoggerMessage(EventId = 5110, Level = LogLevel.Information, Message = "Pool {Pool}: backend {Backend} added ({Detail}) by {Actor}.")]
    private static partial void LogBackendAdded(ILogger logger, string pool, string? backend, string? detail, string? actor);

    [LoggerMessage(EventId = 5111, Level = LogLevel.Information, Message = "Pool {Pool}: backend {Backend} changed ({Detail}) by {Actor}.")]
    private static partial void LogBackendChanged(ILogger logger, string pool, string? backend, string? detail, string? actor);

    [LoggerMessage(EventId = 5112, Level = LogLevel.Information, Message = "Pool {Pool}: backend {Backend} removed by {Actor}.")]
    private static partial void LogBackendRemoved(ILogger logger, string pool, string? backend, string? actor);

    [LoggerMessage(EventId = 5113, Level = LogLevel.Information, Message = "Pool {Pool}: backend {Backend} draining until {Deadline}, by {Actor}.")]
    private static partial void LogDrainStarted(ILogger logger, string pool, string? backend, DateTimeOffset? deadline, string? actor);

    [LoggerMessage(EventId = 5114, Level = LogLevel.Information, Message = "Pool {Pool}: drain of backend {Backend} cancelled by {Actor}.")]
    private static partial void LogDrainCancelled(ILogger logger, string pool, string? backend, string? actor);

    [LoggerMessage(EventId = 5115, Level = LogLevel.Information, Message = "Pool {Pool}: drain deadline {Deadline} of backend {Backend} passed; its remaining sessions move on their next request.")]
    private static partial void LogDrainFinished(ILogger logger, string pool, string? backend, DateTimeOffset? deadline);

    [LoggerMessage(EventId = 5120, Level = LogLevel.Warning, Message = "Pool {Pool}: backend {Backend} is unhealthy (active checks).")]
    private static partial void LogUnhealthy(ILogger logger, string pool, string? backend);

    [LoggerMessage(EventId = 5121, Level = LogLevel.Information, Message = "Pool {Pool}: backend {Backend} is healthy again (active checks).")]
    private static partial void LogHealthy(ILogger logger, string pool, string? backend);

    [LoggerMessage(EventId = 5122, Level = LogLevel.Warning, Message = "Pool {Pool}: backend {Backend} ejected until {Until} (ejection {Ejections} in a row) after failures reported by the gateways.")]
    private static partial void LogEjected(ILogger logger, string pool, string? backend, DateTimeOffset? until, int ejections);

    [LoggerMessage(EventId = 5123, Level = LogLevel.Information, Message = "Pool {Pool}: backend {Backend} readmitted after its ejection.")]
    private static partial void LogReadmitted(ILogger logger, string pool, string? backend);

    [LoggerMessage(EventId = 5124, Level = LogLevel.Warning, Message = "Pool {Pool}: panic: {Healthy} of {Backends} backends healthy, below the threshold; every active backend takes traffic.")]
    private static partial void LogPanicEntered(ILogger logger, string pool, int healthy, int backends);

    [LoggerMessage(EventId = 5125, Level = LogLevel.Information, Message = "Pool {Pool}: panic over: {Healthy} of {Backends} backends healthy.")]
    private static partial void LogPanicLeft(ILogger logger, string pool, int healthy, int backends);
}
