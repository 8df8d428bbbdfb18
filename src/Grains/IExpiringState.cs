namespace Distributed.Grains;

/// <summary>
/// Grain state that knows how long its stored record is needed. A storage that can expire records (the silo's Redis
/// session store) deletes it some margin after that, so lapsed pins leave the store even when their session never
/// comes back.
/// </summary>
public interface IExpiringState
{
    /// <summary>When the state stops being needed (a pin's expiry as stored); <c>null</c> to keep it.</summary>
    DateTimeOffset? KeepUntil { get; }
}
