using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Distributed.Topology;

namespace Distributed.Integration.Tests;

/// <summary>
/// A gateway terminating TLS through the standard <c>Kestrel:Endpoints</c> section, with a self-signed certificate made
/// here: proxying works over HTTPS (HTTP/1.1 and HTTP/2 by ALPN), issued session cookies carry <c>Secure</c>, and the
/// management listener stays on its own port beside the configured endpoints.
/// </summary>
[Trait("Category", "Integration")]
public sealed class EdgeTlsTests(EdgeTlsFixture fixture) : IClassFixture<EdgeTlsFixture>
{
    private LocalTopology Topology => fixture.Topology!;

    [Theory]
    [InlineData("1.1")]
    [InlineData("2.0")]
    public async Task Https_ThroughTheGateway_IsProxiedAndIssuesSecureCookies(string version)
    {
        using var http = new HttpClient(new SocketsHttpHandler
        {
            UseCookies = false,
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = TrustOnlyTheTestCertificate },
        });
        using var message = new HttpRequestMessage(HttpMethod.Get, $"https://127.0.0.1:{fixture.HttpsPort}/profile")
        {
            Version = Version.Parse(version),
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        using var response = await http.SendAsync(message);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Version.Parse(version), response.Version);
        Assert.Contains(response.Headers.GetValues("X-Backend-Id").Single(), new[] { "b1", "b2" });
        var cookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith($"{EdgeTlsFixture.CookieName}=", StringComparison.Ordinal));
        Assert.Contains("; secure", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("; httponly", cookie, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Management_StaysOnItsOwnPlainListenerBesideTheKestrelEndpoints()
    {
        var gateway = Topology.Gateways[0];
        using var http = new HttpClient();
        using var ready = await http.GetAsync(new Uri(gateway.AdminAddress, "/readyz"));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);

        // The configured endpoints replace Urls: nothing answers on the plain public port any more.
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(gateway.Address));
    }

    private bool TrustOnlyTheTestCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            return false; // no certificate, or a name mismatch
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.Add(fixture.Certificate!);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var presented = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return custom.Build(presented);
    }
}

/// <summary>One silo, one gateway with an HTTPS endpoint in <c>Kestrel:Endpoints</c> (certificate made here), two backends.</summary>
public sealed class EdgeTlsFixture : IAsyncLifetime
{
    public const string CookieName = "dist_tls";
    private readonly string _directory = Directory.CreateTempSubdirectory("distributed-tls-").FullName;

    public int HttpsPort { get; } = FreePorts.Next()[0];

    public X509Certificate2? Certificate { get; private set; }

    public LocalTopology? Topology { get; private set; }

    public async Task InitializeAsync()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=distributed gateway (test)", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false)); // server auth
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var path = Path.Combine(_directory, "gateway.pfx");
        await File.WriteAllBytesAsync(path, created.Export(X509ContentType.Pfx));
        Certificate = X509CertificateLoader.LoadCertificate(created.Export(X509ContentType.Cert));

        Topology = await LocalTopology.StartAsync(new TopologyOptions
        {
            Silos = 1,
            Gateways = 1,
            Backends = 2,
            Balancer = backends => TopologyOptions.AddRoutedPool([], "web", $"Cookie:{CookieName}", backends, "/{**rest}", order: 0),
            GatewaySettings = new Dictionary<string, string>
            {
                ["Kestrel:Endpoints:Https:Url"] = $"https://127.0.0.1:{HttpsPort}",
                ["Kestrel:Endpoints:Https:Certificate:Path"] = path,
            },
        });
    }

    public async Task DisposeAsync()
    {
        if (Topology is not null)
        {
            await Topology.DisposeAsync();
        }

        Certificate?.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
