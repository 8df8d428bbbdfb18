namespace Distributed.Grains.Health;

/// <summary>Slow start: a backend's weight ramps linearly from a tenth to full over the window after it becomes usable.</summary>
public static class SlowStart
{
    private const double Floor = 0.1;

    /// <summary>The factor applied to a backend's weight at <paramref name="now"/>.</summary>
    public static double Factor(DateTimeOffset usableSince, DateTimeOffset now, TimeSpan window)
    {
        if (window <= TimeSpan.Zero || now - usableSince >= window)
        {
            return 1;
        }

        var elapsed = Math.Max(0, (now - usableSince).Ticks);
        return Math.Max(Floor, (double)elapsed / window.Ticks);
    }
}
