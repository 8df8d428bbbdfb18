namespace Distributed.Gateway.Configuration;

/// <summary>Failures after which a request may be retried on another backend.</summary>
[Flags]
public enum RetryOn
{
    /// <summary>Never.</summary>
    None = 0,

    /// <summary>The backend could not be reached or failed before sending a response (connection refused or reset).</summary>
    Unreachable = 1,

    /// <summary>The backend accepted the request but sent no response within YARP's activity timeout.</summary>
    Timeout = 2,
}
