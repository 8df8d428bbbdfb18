using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.RegularExpressions;
using Distributed.Topology;

namespace Distributed.Integration.Tests;

/// <summary>
/// HTTPS from the gateway to a backend whose certificate a CA made here issued: trusted through the pool's
/// <c>BackendTls:CaCertificatePath</c>, refused with another CA's file, with the operating system's store, or when the
/// certificate does not name the address's host. The silo's probes trust exactly what the gateway does.
/// </summary>
[Trait("Category", "Integration")]
public sealed partial class BackendTlsTests(BackendTlsFixture fixture) : IClassFixture<BackendTlsFixture>
{
    private LocalTopology Topology => fixture.Topology!;

    [Fact]
    public async Task TrustedCa_ProxiesToTheHttpsBackendAndItsProbesPass()
    {
        using var response = await fixture.Http.GetAsync(new Uri(Topology.Gateways[0].Address, "/trusted/hello"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("tls1", response.Headers.GetValues("X-Backend-Id").Single());
        Assert.Equal(0, await RequestsAsync("trusted", "failure"));

        // The probes of the other pools fail their TLS handshake (UntrustedCertificate_… below), so the health checks
        // the backend answers are the trusted pool's: its prober trusts the CA file as the gateway does.
        await Wait.UntilAsync(
            async () => (await fixture.BackendStatsAsync()).HealthChecks >= 2,
            TimeSpan.FromSeconds(15),
            "the trusted pool's probes to reach the backend over HTTPS");
        Assert.Equal("Healthy", await HealthAsync("trusted"));
    }

    [Theory]
    [InlineData("other", "Balancer:Pools:other:BackendTls:CaCertificatePath")] // chains to another CA
    [InlineData("os", "the operating system's trust store")] // no setting: the OS store knows no test CA
    [InlineData("wrongname", "RemoteCertificateNameMismatch")] // the CA's, but addressed as localhost, which it does not name
    public async Task UntrustedCertificate_Answers502LogsWhyAndIsNeverASuccess(string pool, string reason)
    {
        using var response = await fixture.Http.GetAsync(new Uri(Topology.Gateways[0].Address, $"/{pool}/hello"));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("trusted TLS connection", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(response.Headers.Contains("X-Backend-Id")); // the backend never saw it
        var gateway = Topology.Gateways[0].Process!;
        await Wait.UntilAsync(
            () => Task.FromResult(gateway.RecentOutput().Split('\n').Any(l => l.Contains($"Pool {pool}: TLS to backend tls1 failed", StringComparison.Ordinal) && l.Contains(reason, StringComparison.Ordinal))),
            TimeSpan.FromSeconds(5),
            $"the gateway to log why TLS to the backend of pool {pool} failed");

        // Counted as the backend's failure, never as a success; and the silo's probes, with the same trust, agree.
        await Wait.UntilAsync(async () => await RequestsAsync(pool, "failure") >= 1, TimeSpan.FromSeconds(5), "the refused request to count as the backend's failure");
        Assert.Equal(0, await RequestsAsync(pool, "success"));
        await Wait.UntilAsync(
            async () => await HealthAsync(pool) == "Unhealthy",
            TimeSpan.FromSeconds(15),
            $"the prober of pool {pool} to find the backend unhealthy");
    }

    // distributed_gateway_requests_total of backend tls1 in the pool with that result, as the gateway's /metrics says.
    private async Task<long> RequestsAsync(string pool, string result)
    {
        var metrics = await fixture.Http.GetStringAsync(new Uri(Topology.Gateways[0].AdminAddress, "/metrics"));
        return RequestsTotal().Matches(metrics)
            .Where(m => m.Groups["labels"].Value.Split(',').ToHashSet().IsSupersetOf([$"pool=\"{pool}\"", "backend=\"tls1\"", $"result=\"{result}\""]))
            .Sum(m => (long)double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));
    }

    private async Task<string?> HealthAsync(string pool)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Topology.Gateways[0].AdminAddress, $"/admin/pools/{pool}/backends"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Topology.AdminApiKey);
        using var response = await fixture.Http.SendAsync(request);
        var backends = await response.Content.ReadFromJsonAsync<List<BackendInfo>>(new JsonSerializerOptions(JsonSerializerDefaults.Web));
        return backends!.Single(b => b.Id == "tls1").Health;
    }

    [GeneratedRegex(@"^distributed_gateway_requests_total\{(?<labels>[^}]*)\} (?<value>[0-9.e+]+)", RegexOptions.Multiline)]
    private static partial Regex RequestsTotal();
}

/// <summary>
/// One silo; one gateway; one echo backend <c>tls1</c> serving HTTPS only, with a certificate a CA made here issued for
/// 127.0.0.1 and <c>backend.test</c>. Pools over it, each with fast probes: <c>trusted</c> (the CA's file),
/// <c>other</c> (another CA's file), <c>os</c> (no file: the operating system's store) and <c>wrongname</c> (the CA's
/// file, the backend addressed as <c>localhost</c>), each routed from <c>/{pool}/…</c>.
/// </summary>
public sealed class BackendTlsFixture : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory("distributed-backend-tls-").FullName;
    private readonly X509Certificate2 _authority = LocalCertificates.CreateAuthority("Distributed backend CA (test)");
    private ManagedProcess? _backend;
    private int _port;

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    public LocalTopology? Topology { get; private set; }

    public async Task InitializeAsync()
    {
        using var other = LocalCertificates.CreateAuthority("Another CA (test)");
        using var certificate = LocalCertificates.CreateServer("tls1", _authority, [IPAddress.Loopback], ["backend.test"]);
        var trusted = LocalCertificates.WritePem(_authority, Path.Combine(_directory, "ca.pem"));
        var untrusted = LocalCertificates.WritePem(other, Path.Combine(_directory, "other-ca.pem"));
        var port = _port = FreePorts.Next()[0];
        _backend = await EchoBackendProcess.StartEchoAsync("tls1", port, faultInjection: false, new EchoTls(LocalCertificates.WritePfx(certificate, Path.Combine(_directory, "tls1.pfx")), _authority));
        var backend = new BackendNode("tls1", port, _backend, Https: true);

        Topology = await LocalTopology.StartAsync(new TopologyOptions
        {
            Silos = 1,
            Gateways = 1,
            Backends = 0,
            Balancer = _ =>
            {
                var settings = new Dictionary<string, string>();
                foreach (var (pool, ca) in new (string Pool, string? Ca)[] { ("trusted", trusted), ("other", untrusted), ("os", null), ("wrongname", trusted) })
                {
                    TopologyOptions.AddRoutedPool(settings, pool, "", [backend], $"/{pool}/{{**rest}}", order: 0);
                    settings[$"Balancer:Pools:{pool}:HealthCheck:Interval"] = "00:00:00.500";
                    settings[$"Balancer:Pools:{pool}:HealthCheck:Timeout"] = "00:00:00.400";
                    settings[$"Balancer:Pools:{pool}:HealthCheck:Rise"] = "1";
                    settings[$"Balancer:Pools:{pool}:HealthCheck:Fall"] = "1";
                    if (ca is not null)
                    {
                        settings[$"Balancer:Pools:{pool}:BackendTls:CaCertificatePath"] = ca;
                    }
                }

                settings["Balancer:Pools:wrongname:Backends:tls1:Address"] = $"https://localhost:{port}/";
                return settings;
            },
        });
    }

    /// <summary>The backend's own counters, read over HTTPS with the CA.</summary>
    public async Task<EchoStats> BackendStatsAsync()
    {
        using var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = LocalCertificates.TrustOnly(_authority);
        using var http = new HttpClient(handler);
        return (await http.GetFromJsonAsync<EchoStats>(new Uri($"https://127.0.0.1:{_port}/_echo/stats"), new JsonSerializerOptions(JsonSerializerDefaults.Web)))!;
    }

    public async Task DisposeAsync()
    {
        if (Topology is not null)
        {
            await Topology.DisposeAsync();
        }

        if (_backend is not null)
        {
            await _backend.DisposeAsync();
        }

        Http.Dispose();
        _authority.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
