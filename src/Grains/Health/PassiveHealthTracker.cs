using Distributed.Grains.Abstractions;

namespace Distributed.Grains.Health;

/// <summary>
/// Pooled passive health of one backend: the outcomes every gateway reported, as consecutive failures and a failure
/// rate over a sliding window. Plain logic on explicit time, so it is unit-tested without Orleans.
/// </summary>
public sealed class PassiveHealthTracker
{
    private readonly Queue<(DateTimeOffset At, long Completed, long Failed)> _window = new();
    private long _windowCompleted;
    private long _windowFailed;

    /// <summary>Requests completed per second over <paramref name="window"/> (what is still in it).</summary>
    public double Rate(DateTimeOffset now, TimeSpan window)
    {
        Trim(now, window);
        return _windowCompleted / window.TotalSeconds;
    }

    /// <summary>Failures reported with no success in between.</summary>
    public long ConsecutiveFailures { get; private set; }

    /// <summary>Adds one gateway's report: <paramref name="completed"/> requests, of which <paramref name="failed"/> failed.</summary>
    public void Record(DateTimeOffset now, long completed, long failed, TimeSpan window)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(failed);
        ArgumentOutOfRangeException.ThrowIfLessThan(completed, failed);
        if (completed == 0)
        {
            return;
        }

        // A report only carries counts, not their order: an all-failed report extends the run, any success ends it.
        ConsecutiveFailures = failed == completed ? ConsecutiveFailures + failed : 0;
        _window.Enqueue((now, completed, failed));
        _windowCompleted += completed;
        _windowFailed += failed;
        Trim(now, window);
    }

    /// <summary>Whether the pooled outcomes call for ejecting the backend.</summary>
    public bool ShouldEject(DateTimeOffset now, PassiveHealthSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Trim(now, settings.Window);
        if (settings.ConsecutiveFailures > 0 && ConsecutiveFailures >= settings.ConsecutiveFailures)
        {
            return true;
        }

        return settings.FailureRate > 0
            && _windowCompleted >= settings.MinimumRequests
            && _windowFailed >= settings.FailureRate * _windowCompleted;
    }

    /// <summary>Forgets everything (after an ejection, the backend starts with a clean record).</summary>
    public void Reset()
    {
        _window.Clear();
        _windowCompleted = 0;
        _windowFailed = 0;
        ConsecutiveFailures = 0;
    }

    /// <summary>How long the <paramref name="ejections"/>-th ejection in a row lasts: doubling, capped.</summary>
    public static TimeSpan EjectionTime(int ejections, PassiveHealthSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var factor = Math.Pow(2, Math.Clamp(ejections - 1, 0, 30));
        var ticks = Math.Min(settings.EjectionTime.Ticks * factor, settings.MaxEjectionTime.Ticks);
        return TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>How many of <paramref name="backends"/> may be ejected at once: the configured share, at least one.</summary>
    public static int MaxEjected(int backends, PassiveHealthSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return Math.Max(1, backends * settings.MaxEjectedPercent / 100);
    }

    private void Trim(DateTimeOffset now, TimeSpan window)
    {
        while (_window.TryPeek(out var oldest) && now - oldest.At > window)
        {
            _window.Dequeue();
            _windowCompleted -= oldest.Completed;
            _windowFailed -= oldest.Failed;
        }
    }
}
