using Distributed.Gateway.Pools;
using Distributed.Grains.Abstractions;

namespace Distributed.Gateway.Pinning;

/// <summary>Whether a gateway may route by a pin from its own cache without asking the session grain.</summary>
internal static class PinValidity
{
    /// <summary>
    /// True while the pinned backend keeps sessions, no gateway can have moved the pin since it was cached (the
    /// backend's pin generation is unchanged: it has not stopped keeping sessions meanwhile), and the pin cannot have
    /// lapsed cluster-wide (confirmed within the session TTL). A provisional pin is always used (it is reconciled in the
    /// background), and so is a lapsed one while the cluster is unreachable: a stale pin beats a guess (fail-static).
    /// </summary>
    public static bool IsUsable(CachedPin pin, BackendSnapshot backend, DateTimeOffset now, TimeSpan sessionTtl, bool clusterUnreachable) =>
        backend.KeepsSessions
        && backend.PinGeneration == pin.Generation
        && (pin.IsProvisional || now - pin.ConfirmedAt < sessionTtl || clusterUnreachable);
}
