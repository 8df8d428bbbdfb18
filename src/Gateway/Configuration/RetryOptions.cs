namespace Distributed.Gateway.Configuration;

/// <summary>
/// Retries of a pool: a request is retried once, on another backend, when it failed in one of <see cref="On"/>'s ways,
/// its method is one of <see cref="Methods"/>, it has no body, and nothing of the response reached the client yet.
/// A session's retry goes where placement would re-pin it; the pin itself stays (health decides whether it moves).
/// </summary>
public sealed class RetryOptions
{
    /// <summary>The methods retried by default: idempotent and without body by nature.</summary>
    public static readonly IReadOnlyList<string> DefaultMethods = ["GET", "HEAD", "OPTIONS"];

    /// <summary>Whether requests are retried at all. <value>Default: true.</value></summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// Methods that may be retried. Only list methods that are idempotent for your backends: a request that failed
    /// may have been processed. <value>Default: GET, HEAD, OPTIONS.</value>
    /// </summary>
    public List<string>? Methods { get; set; }

    /// <summary>
    /// Failures retried, comma-separated: <c>Unreachable</c>, <c>Timeout</c>, or <c>None</c>.
    /// <value>Default: Unreachable.</value>
    /// </summary>
    public RetryOn On { get; set; } = RetryOn.Unreachable;

    /// <summary>The methods in effect.</summary>
    public IReadOnlyList<string> EffectiveMethods => Methods is { Count: > 0 } methods ? methods : DefaultMethods;
}
