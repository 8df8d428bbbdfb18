namespace Distributed.Grains.Abstractions;

/// <summary>
/// A grain's store (Redis) could not read or write its state. Thrown by the silo in place of the storage provider's own
/// exception, whose type lives in an assembly a gateway does not load: Orleans could not deserialize that one on the
/// gateway, dropped the response, and the gateway's call waited its whole budget instead of failing at once.
/// </summary>
[GenerateSerializer, Alias("Distributed.StoreUnavailableException")]
public sealed class StoreUnavailableException : Exception
{
    public StoreUnavailableException()
    {
    }

    public StoreUnavailableException(string message)
        : base(message)
    {
    }

    public StoreUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
