namespace Distributed.Grains.Abstractions;

/// <summary>A session's pin: the backend it is bound to, the pin's epoch and when it lapses if idle.</summary>
/// <param name="BackendId">The backend the session is pinned to.</param>
/// <param name="Epoch">Increases on every change of the session's pin (pin, re-pin, unpin, expiry); starts at 1.</param>
/// <param name="ExpiresAt">The pin lapses if the session is not seen again before this instant.</param>
/// <param name="BackendGeneration">
/// The newest pin generation (<see cref="BackendSnapshot.PinGeneration"/>) at which a gateway saw the backend keep
/// sessions while it used this pin. A re-pin from a view in which the backend stopped keeping sessions at an older
/// generation is refused: that view is stale.
/// </param>
[GenerateSerializer, Immutable, Alias("Distributed.Pin")]
public sealed record Pin(
    [property: Id(0)] string BackendId,
    [property: Id(1)] long Epoch,
    [property: Id(2)] DateTimeOffset ExpiresAt,
    [property: Id(3)] long BackendGeneration = 0);

/// <summary>A backend as the caller's view of the pool shows it.</summary>
/// <param name="Id">Backend id.</param>
/// <param name="Generation">Its pin generation in the caller's latest snapshot (<see cref="BackendSnapshot.PinGeneration"/>).</param>
[GenerateSerializer, Immutable, Alias("Distributed.BackendRef")]
public readonly record struct BackendRef(
    [property: Id(0)] string Id,
    [property: Id(1)] long Generation);

/// <summary>
/// Where the caller's request goes if the grain answers too late. A gateway waits for the grain only within its budget
/// (<c>Balancer:ClusterWaitBudget</c>) and then serves its guess, which every gateway computes alike but which can
/// differ from the load-aware proposal it asked the grain to pin. A pin the grain makes at or after <paramref name="From"/>
/// (the caller's clock) is made to <paramref name="Backend"/> instead, so the session's first request and its pin agree
/// although the answer came late.
/// </summary>
/// <param name="Backend">The caller's guess.</param>
/// <param name="From">From this instant on the caller may have stopped waiting and served <paramref name="Backend"/>.</param>
[GenerateSerializer, Immutable, Alias("Distributed.PinFallback")]
public sealed record PinFallback(
    [property: Id(0)] BackendRef Backend,
    [property: Id(1)] DateTimeOffset From);

/// <summary>How a pin request was answered.</summary>
public enum PinOutcome
{
    /// <summary>The session already had a live pin; it was returned unchanged.</summary>
    Existing = 0,

    /// <summary>The session had no live pin; the caller's proposal was pinned.</summary>
    Created = 1,

    /// <summary>The compare-and-set re-pin succeeded; the proposal is the new pin.</summary>
    Repinned = 2,

    /// <summary>The re-pin lost: another caller changed the pin first; the winner's pin is returned.</summary>
    Conflict = 3,

    /// <summary>
    /// The re-pin was refused: a gateway confirmed the pinned backend keeping sessions at a newer generation than the
    /// one at which the caller saw it stop (the caller's view is stale). The pin is returned unchanged.
    /// </summary>
    Refused = 4,
}

/// <summary>The answer to a pin request: the session's pin after the call and how it came about.</summary>
[GenerateSerializer, Immutable, Alias("Distributed.PinResult")]
public sealed record PinResult(
    [property: Id(0)] Pin Pin,
    [property: Id(1)] PinOutcome Outcome);

/// <summary>
/// One session of one pool, keyed <c>{pool}/{sessionKey}</c> (see <see cref="SessionGrainKey"/>).
/// The single place that decides which backend the session uses, so every gateway gets the same answer.
/// </summary>
public interface ISessionGrain : IGrainWithStringKey
{
    /// <summary>
    /// Returns the live pin, extending its idle expiry by <paramref name="ttl"/>; if there is none, atomically pins
    /// <paramref name="proposed"/>. Concurrent callers with different proposals get one answer. When the live pin is to
    /// the proposed backend, the proposal's generation is recorded as seen keeping sessions (see
    /// <see cref="Pin.BackendGeneration"/>). A change that cannot be stored fails the call and is not kept. A pin made
    /// once <paramref name="fallback"/> is due goes to the fallback's backend instead of the proposal.
    /// </summary>
    Task<PinResult> GetOrPinAsync(BackendRef proposed, TimeSpan ttl, PinFallback? fallback = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Compare-and-set: moves the pin to <paramref name="proposed"/> only if its epoch is still
    /// <paramref name="expectedEpoch"/> (otherwise <see cref="PinOutcome.Conflict"/> with the pin that won) and the
    /// caller saw the pinned backend stop keeping sessions at <paramref name="unusableGeneration"/>, newer than any
    /// generation it was confirmed at (otherwise <see cref="PinOutcome.Refused"/>). <see cref="long.MaxValue"/> says
    /// the backend is gone from the pool. A lapsed or missing pin is simply pinned to the proposal. A pin made once
    /// <paramref name="fallback"/> is due goes to the fallback's backend instead of the proposal.
    /// </summary>
    Task<PinResult> RepinAsync(long expectedEpoch, long unusableGeneration, BackendRef proposed, TimeSpan ttl, PinFallback? fallback = null, CancellationToken cancellationToken = default);

    /// <summary>The live pin, or <c>null</c> when the session is not pinned (never pinned, unpinned or expired).</summary>
    Task<Pin?> GetAsync();

    /// <summary>Removes the pin; the next request of the session is pinned afresh.</summary>
    Task UnpinAsync();
}

/// <summary>Builds and checks the string keys of <see cref="ISessionGrain"/>.</summary>
public static class SessionGrainKey
{
    /// <summary>The key of the session grain for <paramref name="sessionKey"/> in <paramref name="pool"/>.</summary>
    public static string For(string pool, string sessionKey) => string.Concat(pool, "/", sessionKey);
}
