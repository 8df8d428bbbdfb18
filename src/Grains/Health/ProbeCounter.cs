using Distributed.Grains.Abstractions;

namespace Distributed.Grains.Health;

/// <summary>
/// Rise/Fall counting of one prober, as HAProxy does it, starting from no verdict: passes and failures in a row are
/// counted, <c>Rise</c> passes make the backend healthy and <c>Fall</c> failures unhealthy. Until either happens the
/// prober has no verdict and says nothing, so a prober restarted after a silo crash cannot undo the pool's verdict
/// with its first probe. Plain logic, unit-tested without Orleans.
/// </summary>
public sealed class ProbeCounter
{
    private int _passes;
    private int _failures;

    /// <summary>The verdict: <c>null</c> until the first Rise passes or Fall failures in a row.</summary>
    public bool? Healthy { get; private set; }

    /// <summary>Counts one probe; true when the verdict changed (including the first one).</summary>
    public bool Record(bool passed, ActiveHealthSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        (_passes, _failures) = passed ? (_passes + 1, 0) : (0, _failures + 1);
        bool? verdict = _passes >= settings.Rise ? true : _failures >= settings.Fall ? false : Healthy;
        if (verdict == Healthy)
        {
            return false;
        }

        Healthy = verdict;
        return true;
    }

    /// <summary>Probes in a row that agree with the last one (for the log).</summary>
    public int Streak => Math.Max(_passes, _failures);

    /// <summary>Forgets everything (the address changed: earlier probes say nothing about the new one).</summary>
    public void Reset() => (_passes, _failures, Healthy) = (0, 0, null);
}
