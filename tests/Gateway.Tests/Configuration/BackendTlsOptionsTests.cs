using System.Security.Cryptography.X509Certificates;
using Distributed.Gateway.Configuration;
using Distributed.Grains.Abstractions;
using Distributed.Topology;

namespace Distributed.Gateway.Tests.Configuration;

/// <summary>The CA file of a pool's HTTPS backends: what loads, what is refused, and what the resulting trust accepts.</summary>
[Trait("Category", "Unit")]
public sealed class BackendTlsOptionsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("distributed-backend-tls-").FullName;
    private readonly X509Certificate2 _authority = LocalCertificates.CreateAuthority("backend CA (test)");
    private readonly X509Certificate2 _other = LocalCertificates.CreateAuthority("another CA (test)");

    public void Dispose()
    {
        _authority.Dispose();
        _other.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void TryLoad_NoPath_TrustsTheOperatingSystemsStore()
    {
        Assert.True(new BackendTlsOptions().TryLoad(out var trust, out var error));
        Assert.Null(trust);
        Assert.Null(error);
    }

    [Fact]
    public void TryLoad_ABundleOfTwoAuthorities_TrustsExactlyThem()
    {
        var path = Path.Combine(_directory, "bundle.pem");
        File.WriteAllText(path, $"{_authority.ExportCertificatePem()}\n{_other.ExportCertificatePem()}\n");

        Assert.True(new BackendTlsOptions { CaCertificatePath = path }.TryLoad(out var trust, out _));

        Assert.Equal([_authority.Thumbprint, _other.Thumbprint], trust!.Authorities.Select(c => c.Thumbprint));
        Assert.Equal(File.ReadAllText(path), trust.Pem); // what the probes get
    }

    public static TheoryData<string, string> Unusable => new()
    {
        { "missing", "does not exist" },
        { "empty", "holds no PEM certificate" },
        { "key only", "holds no PEM certificate" },
        { "broken", "cannot be read" },
        { "huge", "more than the" },
    };

    [Theory]
    [MemberData(nameof(Unusable))]
    public void TryLoad_AnUnusableFile_FailsSayingWhy(string file, string reason)
    {
        var path = Path.Combine(_directory, file);
        var contents = file switch
        {
            "empty" => "",
            "key only" => "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
            "broken" => "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
            "huge" => string.Concat(Enumerable.Repeat(_authority.ExportCertificatePem() + "\n", 200)),
            _ => null,
        };
        if (contents is not null)
        {
            File.WriteAllText(path, contents);
        }

        Assert.False(new BackendTlsOptions { CaCertificatePath = path }.TryLoad(out var trust, out var error));

        Assert.Null(trust);
        Assert.Contains(path, error, StringComparison.Ordinal);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateChainPolicy_AcceptsOnlyServerCertificatesOfItsAuthorities()
    {
        var trust = BackendTrust.Parse(_authority.ExportCertificatePem(), out _)!;
        using var issued = LocalCertificates.CreateLoopbackServer("backend", _authority);
        using var foreign = LocalCertificates.CreateLoopbackServer("backend", _other);
        using var selfSigned = LocalCertificates.CreateLoopbackServer("backend");

        Assert.True(Builds(trust, issued));
        Assert.False(Builds(trust, foreign));
        Assert.False(Builds(trust, selfSigned));
        Assert.True(Builds(BackendTrust.Parse(selfSigned.ExportCertificatePem(), out _)!, selfSigned)); // its own CA file

        static bool Builds(BackendTrust trust, X509Certificate2 certificate)
        {
            using var chain = new X509Chain { ChainPolicy = trust.CreateChainPolicy() };
            return chain.Build(certificate);
        }
    }

    [Fact]
    public void ToSettings_SendsTheTrustedAuthoritiesToTheProbes()
    {
        var trust = BackendTrust.Parse(_authority.ExportCertificatePem(), out _)!;

        Assert.Equal(trust.Pem, new PoolOptions().ToSettings(trust).Active.TrustedAuthorities);
        Assert.Null(new PoolOptions().ToSettings().Active.TrustedAuthorities);
    }
}
