using Distributed.Grains.Abstractions;
using Distributed.Grains.Health;
using Distributed.Topology;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Distributed.Grains.Tests.Health;

/// <summary>Which HttpClient a probe uses: the silo's own for the OS trust store, one per set of trusted authorities otherwise.</summary>
[Trait("Category", "Unit")]
public sealed class ProbeHttpClientsTests : IDisposable
{
    private static readonly ActiveHealthSettings Settings = ActiveHealthSettings.Default;
    private readonly ServiceProvider _services;
    private readonly ProbeHttpClients _clients;

    public ProbeHttpClientsTests()
    {
        _services = new ServiceCollection().AddLogging().AddDistributedGrains().BuildServiceProvider();
        _clients = new ProbeHttpClients(_services.GetRequiredService<IHttpClientFactory>(), NullLogger<ProbeHttpClients>.Instance);
    }

    public void Dispose()
    {
        _clients.Dispose();
        _services.Dispose();
    }

    [Fact]
    public void For_TheSameAuthorities_KeepsOneClientPerSetApartFromTheDefault()
    {
        using var first = LocalCertificates.CreateAuthority("probe CA (test)");
        using var second = LocalCertificates.CreateAuthority("other probe CA (test)");
        var one = Settings with { TrustedAuthorities = first.ExportCertificatePem() };

        var client = _clients.For(one);

        Assert.NotNull(client);
        Assert.Same(client, _clients.For(one with { Interval = TimeSpan.FromSeconds(9) }));
        Assert.NotSame(client, _clients.For(Settings with { TrustedAuthorities = second.ExportCertificatePem() }));
        Assert.NotSame(client, _clients.For(Settings));
        Assert.Equal(ProbeHttpClients.UserAgent, client.DefaultRequestHeaders.UserAgent.ToString());
        Assert.Equal(ProbeHttpClients.UserAgent, _clients.For(Settings)!.DefaultRequestHeaders.UserAgent.ToString());
    }

    [Fact]
    public void For_UnreadableAuthorities_GivesNoClientSoTheProbeFailsRatherThanTrustAnythingElse() =>
        Assert.Null(_clients.For(Settings with { TrustedAuthorities = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n" }));
}
