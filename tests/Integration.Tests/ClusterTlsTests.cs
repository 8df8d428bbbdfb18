using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Distributed.ServiceDefaults;
using Distributed.Topology;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;

namespace Distributed.Integration.Tests;

/// <summary>
/// Mutual TLS on the cluster plane (<c>Orleans:Tls</c>) with a self-signed certificate made by the test: two silos and a
/// gateway talk over it and serve traffic; an Orleans client without the certificate, or with another one, is refused.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ClusterTlsTests(ITestOutputHelper output) : ProcessTest(output)
{
    private const string Password = "cluster-tls-test";
    private readonly string _directory = Directory.CreateTempSubdirectory("distributed-tls-").FullName;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Directory.Delete(_directory, recursive: true);
        }

        base.Dispose(disposing);
    }

    [Fact]
    public async Task ClusterWithMutualTls_ServesTrafficThroughAGateway_AndRefusesClientsWithoutTheCertificate()
    {
        var certificate = WritePfx("cluster.pfx", "CN=distributed-cluster");
        var stranger = WritePfx("stranger.pfx", "CN=someone-else");
        var dashboardPassword = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var tls = new Dictionary<string, string>
        {
            ["Orleans:Tls:Enabled"] = "true",
            ["Orleans:Tls:CertificatePath"] = certificate,
            ["Orleans:Tls:CertificatePassword"] = Password,
        };
        await using var topology = await LocalTopology.StartAsync(new TopologyOptions
        {
            Silos = 2,
            Gateways = 1,
            Backends = 2,
            SiloSettings = new Dictionary<string, string>(tls) { ["Orleans:Dashboard:Password"] = dashboardPassword },
            GatewaySettings = tls,
        });

        // Both silos became active members (silo-to-silo over TLS), and the gateway pins sessions through them.
        using var http = new HttpClient();
        foreach (var silo in topology.Silos)
        {
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri($"http://127.0.0.1:{silo.HttpPort}/readyz"))).StatusCode);
        }

        var gateway = topology.Gateways[0];
        string? pinned = null;
        for (var i = 0; i < 5; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Address);
            request.Headers.Add("X-Session-Id", "tls-alice");
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var backend = response.Headers.GetValues("X-Backend-Id").Single();
            Assert.Equal(pinned ?? backend, backend);
            pinned = backend;
        }

        using (var lookup = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway.AdminAddress, "/admin/pools/web/sessions/tls-alice")))
        {
            lookup.Headers.Authorization = new AuthenticationHeaderValue("Bearer", topology.AdminApiKey);
            using var response = await http.SendAsync(lookup);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains(pinned!, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // An Orleans client with the cluster's certificate connects; without one, or with a stranger's, it is refused.
        await ConnectAsync(topology, new ClusterTlsOptions { Enabled = true, CertificatePath = certificate, CertificatePassword = Password });
        await Assert.ThrowsAnyAsync<Exception>(() => ConnectAsync(topology, tls: null));
        await Assert.ThrowsAnyAsync<Exception>(() => ConnectAsync(topology, new ClusterTlsOptions { Enabled = true, CertificatePath = stranger, CertificatePassword = Password }));

        // The dashboard has its own password, even on loopback once one is set.
        var dashboard = new Uri($"http://127.0.0.1:{topology.Silos[0].HttpPort}/dashboard");
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(dashboard)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await DashboardAsync(dashboard, "ops:wrong-password")).StatusCode);
        using var page = await DashboardAsync(dashboard, $"ops:{dashboardPassword}");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
    }

    // Follows the dashboard's redirects by hand: HttpClient drops Authorization when it follows them itself.
    private static async Task<HttpResponseMessage> DashboardAsync(Uri uri, string credentials)
    {
        using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false });
        for (var hop = 0; ; hop++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
            var response = await http.SendAsync(request);
            if (hop == 3 || response.Headers.Location is not { } location)
            {
                return response;
            }

            uri = new Uri(uri, location);
            response.Dispose();
        }
    }

    // Connects an Orleans client to the topology's cluster and disconnects it again; throws when the cluster refuses it.
    private static async Task ConnectAsync(LocalTopology topology, ClusterTlsOptions? tls)
    {
        var errors = new List<string>();
        var material = tls is null ? null : ClusterTls.Load(tls, DateTimeOffset.UtcNow, errors);
        Assert.Empty(errors);
        // No configuration sources: the test's output folder carries the hosts' appsettings.json, whose scalar
        // Orleans:Clustering Orleans would read as a provider name.
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.UseOrleansClient(client =>
        {
            client.UseRedisClustering(topology.Redis.ConnectionString);
            client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (topology.ClusterId, topology.ClusterId));
            if (material is not null)
            {
                client.UseTls(material.Certificate, material.Configure);
            }
        });
        using var host = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await host.StartAsync(timeout.Token);
        await host.StopAsync(CancellationToken.None);
    }

    // A self-signed certificate usable for both ends of a connection, as every cluster member is.
    private string WritePfx(string name, string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pkcs12, Password));
        return path;
    }
}
