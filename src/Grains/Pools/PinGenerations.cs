using System.Collections.Immutable;

namespace Distributed.Grains.Pools;

/// <summary>
/// How gateways learn that pins moved without asking every session grain: pin generations (one per keeps-sessions
/// state of a backend; a cached pin taken under another one is checked again) and announcements of sessions unpinned
/// through the admin API. Plain logic on explicit time.
/// </summary>
public sealed class PinGenerations
{
    // Unpinned sessions are announced for longer than a gateway's pin confirmation interval (5 minutes by default), so
    // a gateway that missed every snapshot meanwhile (cut off from the cluster) has confirmed its cached pins since.
    private static readonly TimeSpan UnpinAnnouncement = TimeSpan.FromMinutes(10);

    // Session key -> end of its announcement. Unpins are rare operator actions, so a scan on expiry costs nothing.
    private readonly Dictionary<string, DateTimeOffset> _unpinned = new(StringComparer.Ordinal);

    /// <summary>
    /// A new backend's first generation: the clock in milliseconds rather than zero, so a catalog re-seeded after its
    /// store lost the data still numbers every state after the generations session grains recorded before the loss.
    /// </summary>
    public static long First(DateTimeOffset now) => now.ToUnixTimeMilliseconds();

    /// <summary>
    /// The catalog with each backend's keeps-sessions state as <paramref name="keepsSessions"/> says, every change under
    /// a generation never used before (either way, so a generation names one state); <c>null</c> when none changes.
    /// </summary>
    public static PoolState? Apply(PoolState catalog, Func<BackendRecord, bool> keepsSessions, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(keepsSessions);
        PoolState? next = null;
        for (var i = 0; i < catalog.Backends.Count; i++)
        {
            var wanted = keepsSessions(catalog.Backends[i]);
            if (wanted != catalog.Backends[i].KeepsSessions)
            {
                next ??= catalog.Clone();
                var backend = next.Backends[i];
                backend.KeepsSessions = wanted;
                backend.PinGeneration = Math.Max(backend.PinGeneration + 1, now.ToUnixTimeMilliseconds());
            }
        }

        return next;
    }

    /// <summary>
    /// Announces an unpinned session in the snapshots of the next minutes; announcing it again (a retried unpin, or a
    /// session unpinned once more) renews the announcement instead of listing it twice.
    /// </summary>
    public void Unpinned(string sessionKey, DateTimeOffset now) => _unpinned[sessionKey] = now + UnpinAnnouncement;

    /// <summary>Drops announcements that ran their course.</summary>
    public void Expire(DateTimeOffset now)
    {
        foreach (var (key, until) in _unpinned)
        {
            if (until <= now)
            {
                _unpinned.Remove(key);
            }
        }
    }

    /// <summary>Sessions announced at <paramref name="now"/>.</summary>
    public ImmutableArray<string> RecentlyUnpinned(DateTimeOffset now) => [.. _unpinned.Where(u => u.Value > now).Select(u => u.Key)];
}
