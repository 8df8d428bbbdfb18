using System.Collections.Concurrent;
using Distributed.Grains.Abstractions;
using Microsoft.Extensions.Logging;

namespace Distributed.Grains.Health;

/// <summary>
/// The HttpClients of the health probes. Backends trusted through the operating system's store are probed with the
/// silo's named client (<see cref="BackendProbeGrain.HttpClientName"/>); a pool that trusts its own authorities instead
/// (<see cref="ActiveHealthSettings.TrustedAuthorities"/>, from the gateways' <c>BackendTls:CaCertificatePath</c>) is
/// probed with a client that trusts exactly those, as the gateways forward. Those clients are kept for the silo's
/// life, one per set of authorities: pools name few.
/// </summary>
public sealed partial class ProbeHttpClients(IHttpClientFactory factory, ILogger<ProbeHttpClients> logger) : IDisposable
{
    /// <summary>The User-Agent of every probe.</summary>
    public const string UserAgent = "Distributed-HealthCheck/1.0";

    // Connections are renewed now and then so a backend's DNS changes are seen, as IHttpClientFactory's handlers are.
    private static readonly TimeSpan ConnectionLifetime = TimeSpan.FromMinutes(2);

    private readonly ConcurrentDictionary<string, Lazy<HttpClient?>> _trusting = new(StringComparer.Ordinal);

    /// <summary>
    /// The client that probes with <paramref name="settings"/>' trust; <c>null</c> when its authorities cannot be read
    /// (the gateways validate them, so only a silo older or newer than they are sees this): the probe then fails
    /// rather than trust anything else.
    /// </summary>
    public HttpClient? For(ActiveHealthSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return settings.TrustedAuthorities is not { } pem
            ? factory.CreateClient(BackendProbeGrain.HttpClientName)
            : _trusting.GetOrAdd(pem, static (pem, self) => new Lazy<HttpClient?>(() => self.Create(pem)), this).Value;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var client in _trusting.Values)
        {
            if (client.IsValueCreated)
            {
                client.Value?.Dispose();
            }
        }
    }

    private HttpClient? Create(string pem)
    {
        if (BackendTrust.Parse(pem, out var error) is not { } trust)
        {
            LogUnreadableTrust(logger, error!);
            return null;
        }

        var handler = new SocketsHttpHandler { PooledConnectionLifetime = ConnectionLifetime };
        handler.SslOptions.CertificateChainPolicy = trust.CreateChainPolicy();
        var client = new HttpClient(handler);
        client.DefaultRequestHeaders.UserAgent.ParseAdd(UserAgent);
        return client;
    }

    [LoggerMessage(EventId = 5003, Level = LogLevel.Error, Message = "A pool's trusted authorities for its HTTPS backends cannot be read (the PEM {Error}); its probes fail until a gateway sends readable ones.")]
    private static partial void LogUnreadableTrust(ILogger logger, string error);
}
