using System.Net;
using System.Net.Http.Headers;

namespace Distributed.Integration.Tests;

/// <summary>
/// The management plane is bound to its listener: what decides is the port the connection came in on, never the Host
/// header the client wrote (design invariant I10).
/// </summary>
[Trait("Category", "Integration")]
[Collection(OperationsTopology.Name)]
public sealed class ManagementPlaneTests(OperationsTopologyFixture fixture, ITestOutputHelper output) : ProcessTest(output)
{
    public static TheoryData<string> ManagementPaths => ["/admin/pools", "/ui", "/metrics", "/healthz", "/readyz"];

    [Theory]
    [MemberData(nameof(ManagementPaths))]
    public async Task ManagementPath_OnThePublicPortWithAForgedHost_IsProxiedToABackend(string path)
    {
        var gateway = fixture.Topology.Gateways[0];
        foreach (var host in new[] { $"x:{gateway.AdminPort}", $"127.0.0.1:{gateway.AdminPort}", $"localhost:{gateway.AdminPort}", "x" })
        {
            using var response = await GetAsync(new Uri(gateway.Address, path), host);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True(
                response.Headers.Contains("X-Backend-Id"),
                $"{path} with 'Host: {host}' on the public port was answered by the gateway itself instead of a backend:\n{await response.Content.ReadAsStringAsync()}");
        }
    }

    [Theory]
    [MemberData(nameof(ManagementPaths))]
    public async Task ManagementPath_OnTheManagementPortWithAnyHost_IsServedByTheGateway(string path)
    {
        var gateway = fixture.Topology.Gateways[0];
        foreach (var host in new[] { $"x:{gateway.Port}", $"127.0.0.1:{gateway.Port}", "x" })
        {
            using var response = await GetAsync(new Uri(gateway.AdminAddress, path), host);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.False(response.Headers.Contains("X-Backend-Id"), $"{path} with 'Host: {host}' on the management port was proxied");
        }
    }

    [Fact]
    public async Task ProxiedPath_OnTheManagementPort_IsNotFound()
    {
        var gateway = fixture.Topology.Gateways[0];
        using var response = await GetAsync(new Uri(gateway.AdminAddress, "/some/app/path"), $"x:{gateway.Port}");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.False(response.Headers.Contains("X-Backend-Id"));
    }

    [Fact]
    public async Task WrongMethod_OnAManagementPath_IsNeitherServedNorProxiedOnTheManagementPort_AndProxiedOnThePublicPort()
    {
        // Routing splits the planes before it looks at the method: on the management port /ui is the status page alone,
        // which takes GET, so POST is a 405 naming it; the proxy's catch-all (which takes every method) is not there.
        var gateway = fixture.Topology.Gateways[0];
        using (var management = await fixture.Http.PostAsync(new Uri(gateway.AdminAddress, "/ui"), null))
        {
            Assert.Equal(HttpStatusCode.MethodNotAllowed, management.StatusCode);
            Assert.Contains(HttpMethod.Get.Method, management.Content.Headers.Allow);
            Assert.False(management.Headers.Contains("X-Backend-Id"));
        }

        using var proxied = await fixture.Http.PostAsync(new Uri(gateway.Address, "/ui"), null);
        Assert.Equal(HttpStatusCode.OK, proxied.StatusCode);
        Assert.True(proxied.Headers.Contains("X-Backend-Id"), "POST /ui on the public port was not proxied");
    }

    [Fact]
    public async Task StatusPage_HasARestrictiveContentSecurityPolicy_AndCannotBeFramed()
    {
        var gateway = fixture.Topology.Gateways[0];
        using var response = await GetAsync(new Uri(gateway.AdminAddress, "/ui"), $"127.0.0.1:{gateway.AdminPort}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var policy = string.Join(";", response.Headers.GetValues("Content-Security-Policy")).Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("default-src 'none'", policy);
        Assert.Contains("connect-src 'self'", policy);
        Assert.Contains("frame-ancestors 'none'", policy);
    }

    private async Task<HttpResponseMessage> GetAsync(Uri uri, string host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Host = host;
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fixture.Topology.AdminApiKey);
        return await fixture.Http.SendAsync(request);
    }
}
