namespace Distributed.Grains.Sessions;

/// <summary>Persisted state of a session grain.</summary>
[GenerateSerializer, Alias("Distributed.SessionState")]
public sealed class SessionState : IExpiringState
{

    /// <summary>The pinned backend; <c>null</c> when unpinned.</summary>
    [Id(0)]
    public string? BackendId { get; set; }

    /// <summary>Epoch of the latest change; kept across unpin so epochs never repeat.</summary>
    [Id(1)]
    public long Epoch { get; set; }

    /// <summary>When the pin lapses if the session is idle.</summary>
    [Id(2)]
    public DateTimeOffset ExpiresAt { get; set; }

    /// <summary>
    /// The newest pin generation at which a gateway saw the pinned backend keep sessions (see
    /// <see cref="Abstractions.Pin.BackendGeneration"/>).
    /// </summary>
    [Id(3)]
    public long BackendGeneration { get; set; }

    /// <inheritdoc />
    public DateTimeOffset? KeepUntil => BackendId is null ? null : ExpiresAt;

    /// <summary>A copy, to restore when a write fails.</summary>
    public SessionState Copy() => (SessionState)MemberwiseClone();

    /// <summary>Takes every value of <paramref name="other"/>.</summary>
    public void Restore(SessionState other)
    {
        ArgumentNullException.ThrowIfNull(other);
        (BackendId, Epoch, ExpiresAt, BackendGeneration) = (other.BackendId, other.Epoch, other.ExpiresAt, other.BackendGeneration);
    }
}
