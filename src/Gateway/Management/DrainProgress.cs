using Distributed.Grains.Abstractions;

namespace Distributed.Gateway.Management;

/// <summary>How far a backend's drain has come, as the admin API reports it.</summary>
/// <param name="RemainingSessions">Sessions still pinned to it (0 once the deadline passed); <c>null</c> unless draining.</param>
/// <param name="SafeToRemove">
/// Nothing remains and nothing is in flight: <c>true</c>; something does: <c>false</c>; <c>null</c> when the session list
/// cannot tell (it restarted less than a session TTL ago and lists none).
/// </param>
/// <param name="SessionsKnown">Whether the backend's session list is complete.</param>
internal readonly record struct DrainProgress(int? RemainingSessions, bool? SafeToRemove, bool SessionsKnown)
{
    /// <summary>The progress of <paramref name="backend"/> at <paramref name="now"/>.</summary>
    public static DrainProgress Of(BackendSnapshot backend, SessionPage sessions, TimeSpan sessionTtl, DateTimeOffset now)
    {
        // The list lives in memory and is fed as pins change or extend: after the silo holding it went down it knows only
        // the sessions seen since, and is complete once every session from before has either shown up again or lapsed.
        var known = now - sessions.TrackingSince >= sessionTtl;
        if (backend.State != BackendState.Draining)
        {
            return new DrainProgress(null, false, known);
        }

        if (backend.DrainDeadline <= now)
        {
            // Past the deadline no session keeps the backend: whoever returns is re-pinned elsewhere.
            return new DrainProgress(0, backend.ClusterInFlight == 0, known);
        }

        bool? safe = sessions.Total > 0 || backend.ClusterInFlight > 0 ? false : known ? true : null;
        return new DrainProgress(sessions.Total, safe, known);
    }
}
