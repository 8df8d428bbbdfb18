using Distributed.Gateway.Pools;
using Yarp.ReverseProxy.Forwarder;

namespace Distributed.Gateway.Routing;

/// <summary>
/// YARP's HTTP client factory (one client per cluster, that is per pool) with the pool's backend trust: a pool with
/// <c>BackendTls:CaCertificatePath</c> accepts only backend certificates that chain to its authorities, through the
/// TLS layer's own chain policy; host names are checked as usual. Pools without it keep YARP's defaults (the
/// operating system's trust store). The trust is fixed at start-up, so YARP's reuse of a cluster's client when its
/// destinations change stays right.
/// </summary>
internal sealed class BackendTlsHttpClientFactory(PoolRegistry pools, ILogger<ForwarderHttpClientFactory> logger) : ForwarderHttpClientFactory(logger)
{
    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        if (pools.Find(context.ClusterId)?.Trust is { } trust)
        {
            handler.SslOptions.CertificateChainPolicy = trust.CreateChainPolicy();
        }
    }
}
