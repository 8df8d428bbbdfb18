namespace Distributed.Grains.Abstractions;

/// <summary>A session's pin: the backend it is bound to, the pin's epoch and when it lapses if idle.</summary>
/// <param name="BackendId">The backend the session is pinned to.</param>
/// <param name="Epoch">Increases on every change of the session's pin (pin, re-pin, unpin, expiry).</param>
/// <param name="ExpiresAt">The pin lapses if the session is not seen again before this instant.</param>
[GenerateSerializer, Immutable, Alias("Distributed.Pin")]
public sealed record Pin(
    [property: Id(0)] string BackendId,
    [property: Id(1)] long Epoch,
    [property: Id(2)] DateTimeOffset ExpiresAt);

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
    /// Returns the live pin, extending its idle expiry by <paramref name="ttl"/>; if there is none,
    /// atomically pins <paramref name="proposedBackendId"/>. Concurrent callers with different proposals get one answer.
    /// </summary>
    Task<PinResult> GetOrPinAsync(string proposedBackendId, TimeSpan ttl, CancellationToken cancellationToken = default);

    /// <summary>
    /// Compare-and-set: moves the pin to <paramref name="proposedBackendId"/> only if its epoch is still
    /// <paramref name="expectedEpoch"/>; otherwise returns the pin that won (<see cref="PinOutcome.Conflict"/>).
    /// </summary>
    Task<PinResult> RepinAsync(long expectedEpoch, string proposedBackendId, TimeSpan ttl, CancellationToken cancellationToken = default);

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
