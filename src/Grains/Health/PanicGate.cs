namespace Distributed.Grains.Health;

/// <summary>
/// Whether a pool panics (every active backend takes traffic, healthy or not), with hysteresis: panic starts when the
/// healthy share falls below the threshold (Envoy's panic threshold) and ends only once one backend more than the
/// threshold needs is healthy again. A backend recovering at the edge therefore cannot end panic only for the next
/// failure to start it again, re-pinning the sessions of every unhealthy backend each time.
/// </summary>
public sealed class PanicGate
{
    /// <summary>Whether the pool panics.</summary>
    public bool Active { get; private set; }

    /// <summary>
    /// Takes the current counts; true when <see cref="Active"/> changed. <paramref name="active"/> counts the backends
    /// that may take traffic at all (active, and checked if they must be), <paramref name="healthy"/> those of them that
    /// are healthy; <paramref name="thresholdPercent"/> 0 disables panic.
    /// </summary>
    public bool Update(int healthy, int active, int thresholdPercent)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(healthy);
        ArgumentOutOfRangeException.ThrowIfLessThan(active, healthy);
        ArgumentOutOfRangeException.ThrowIfNegative(thresholdPercent);

        // The fewest healthy backends that are not below the threshold.
        var needed = (int)Math.Ceiling(active * Math.Min(thresholdPercent, 100) / 100.0);
        var next = thresholdPercent > 0 && active > 0 && (Active
            ? healthy < Math.Min(needed + 1, active)
            : healthy < needed);
        if (next == Active)
        {
            return false;
        }

        Active = next;
        return true;
    }
}
