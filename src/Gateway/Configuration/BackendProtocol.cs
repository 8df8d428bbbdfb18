namespace Distributed.Gateway.Configuration;

/// <summary>The HTTP version a pool speaks to its backends.</summary>
public enum BackendProtocol
{
    /// <summary>YARP's default: HTTP/2 when TLS negotiates it (ALPN), else HTTP/1.1.</summary>
    Auto = 0,

    /// <summary>HTTP/1.1 only.</summary>
    Http1,

    /// <summary>HTTP/2 only; over <c>http://</c> that is h2c with prior knowledge.</summary>
    Http2,
}
