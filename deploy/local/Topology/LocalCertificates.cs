using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Distributed.Topology;

/// <summary>
/// Certificates made on the spot for local HTTPS (a gateway's edge listener, an HTTPS echo backend): a certificate
/// authority, server certificates it issues or that sign themselves, and a check that trusts one authority only.
/// Servers' certificates are valid from five minutes ago for a day; never trusted by the machine.
/// </summary>
public static class LocalCertificates
{
    private const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";

    /// <summary>A certificate authority named <paramref name="name"/>, with its private key, to issue server certificates.</summary>
    public static X509Certificate2 CreateAuthority(string name)
    {
        using var key = RSA.Create(2048); // RSA like the server certificates: an issuer signs with its own key type
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-10), DateTimeOffset.UtcNow.AddDays(2)); // outlives what it issues
    }

    /// <summary>
    /// A server certificate with its private key for <paramref name="ipAddresses"/> and <paramref name="dnsNames"/>,
    /// issued by <paramref name="issuer"/>, or signing itself when it is <c>null</c>.
    /// </summary>
    public static X509Certificate2 CreateServer(string name, X509Certificate2? issuer, IEnumerable<IPAddress> ipAddresses, IEnumerable<string> dnsNames)
    {
        ArgumentNullException.ThrowIfNull(ipAddresses);
        ArgumentNullException.ThrowIfNull(dnsNames);
        using var key = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        foreach (var address in ipAddresses)
        {
            names.AddIpAddress(address);
        }

        foreach (var dnsName in dnsNames)
        {
            names.AddDnsName(dnsName);
        }

        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ServerAuthentication)], critical: false));
        var (notBefore, notAfter) = (DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        if (issuer is null)
        {
            return request.CreateSelfSigned(notBefore, notAfter);
        }

        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        using var issued = request.Create(issuer, notBefore, notAfter, RandomNumberGenerator.GetBytes(8));
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>A server certificate for 127.0.0.1 and <c>localhost</c>, as <see cref="CreateServer"/> makes it.</summary>
    public static X509Certificate2 CreateLoopbackServer(string name, X509Certificate2? issuer = null) =>
        CreateServer(name, issuer, [IPAddress.Loopback], ["localhost"]);

    /// <summary>Writes <paramref name="certificate"/> with its private key as PKCS#12 (no password), as Kestrel loads it.</summary>
    public static string WritePfx(X509Certificate2 certificate, string path)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pfx));
        return path;
    }

    /// <summary>Writes the public part of <paramref name="certificate"/> as PEM (e.g. a CA file).</summary>
    public static string WritePem(X509Certificate2 certificate, string path)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        File.WriteAllText(path, certificate.ExportCertificatePem());
        return path;
    }

    /// <summary>
    /// A TLS client check that accepts a server certificate only when it names the host and chains to
    /// <paramref name="authority"/> (a CA, or the server's own self-signed certificate).
    /// </summary>
    public static RemoteCertificateValidationCallback TrustOnly(X509Certificate2 authority) => (_, certificate, _, errors) =>
    {
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            return false; // no certificate, or a name mismatch
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var presented = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(presented);
    };
}
