namespace Distributed.Grains.Sessions;

/// <summary>Persisted state of a session grain.</summary>
[GenerateSerializer, Alias("Distributed.SessionState")]
public sealed class SessionState
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
}
