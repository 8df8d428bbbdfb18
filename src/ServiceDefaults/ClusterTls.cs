using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Orleans.Connections.Security;

namespace Distributed.ServiceDefaults;

/// <summary>
/// Mutual TLS between silos and gateways (<c>Orleans:Tls</c>): every connection of the cluster plane — silo to silo,
/// gateway to silo — is encrypted, and both ends must present a certificate issued by the configured authority.
/// Off by default; a deployment that turns it on gives every silo and gateway a certificate.
/// </summary>
public sealed class ClusterTlsOptions
{
    /// <summary>Turns mutual TLS on. <value>Default: false.</value></summary>
    public bool Enabled { get; set; }

    /// <summary>
    /// This member's certificate: a PKCS#12 file (<c>.pfx</c>/<c>.p12</c>, with <see cref="CertificatePassword"/>) or a
    /// PEM certificate (with <see cref="KeyPath"/>). Its key usage must allow both server and client authentication.
    /// </summary>
    public string? CertificatePath { get; set; }

    /// <summary>PEM private key of a PEM <see cref="CertificatePath"/> (e.g. a Kubernetes TLS secret's <c>tls.key</c>).</summary>
    public string? KeyPath { get; set; }

    /// <summary>Password of a PKCS#12 <see cref="CertificatePath"/>. <value>Default: none.</value></summary>
    public string? CertificatePassword { get; set; }

    /// <summary>
    /// PEM file of the certificate authorities whose certificates the cluster accepts (e.g. <c>ca.crt</c>).
    /// <value>Default: this member's own certificate, for a cluster that shares one self-signed certificate.</value>
    /// </summary>
    public string? CaCertificatePath { get; set; }
}

/// <summary>Loaded, validated TLS material of a silo or gateway, and how Orleans' TLS layer uses it.</summary>
public sealed class ClusterTls
{
    private readonly X509Certificate2Collection _authorities;

    private ClusterTls(X509Certificate2 certificate, X509Certificate2Collection authorities)
    {
        Certificate = certificate;
        _authorities = authorities;
    }

    /// <summary>This member's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>
    /// Loads the material that <paramref name="options"/> names; adds a message naming the key to
    /// <paramref name="errors"/> for every problem. Returns <c>null</c> when TLS is off or the material is unusable.
    /// </summary>
    public static ClusterTls? Load(ClusterTlsOptions options, DateTimeOffset now, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(errors);
        const string Section = "Orleans:Tls";
        if (!options.Enabled)
        {
            return null;
        }

        if (string.IsNullOrWhiteSpace(options.CertificatePath))
        {
            errors.Add($"{Section}:CertificatePath must name this member's certificate (PKCS#12, or PEM with {Section}:KeyPath) when {Section}:Enabled is true.");
            return null;
        }

        X509Certificate2 certificate;
        try
        {
            certificate = options.KeyPath is { Length: > 0 } keyPath
                ? X509Certificate2.CreateFromPemFile(options.CertificatePath, keyPath)
                : X509CertificateLoader.LoadPkcs12FromFile(options.CertificatePath, options.CertificatePassword);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
        {
            errors.Add($"{Section}:CertificatePath '{options.CertificatePath}' cannot be read{(options.KeyPath is { Length: > 0 } ? $" with {Section}:KeyPath '{options.KeyPath}'" : $" (PKCS#12; is {Section}:CertificatePassword right?)")}: {ex.Message}");
            return null;
        }

        var problems = errors.Count;
        if (!certificate.HasPrivateKey)
        {
            errors.Add($"{Section}:CertificatePath '{options.CertificatePath}' has no private key.");
        }

        if (now < certificate.NotBefore || now > certificate.NotAfter)
        {
            errors.Add($"{Section}:CertificatePath '{options.CertificatePath}' is valid from {certificate.NotBefore:u} to {certificate.NotAfter:u}, not now.");
        }

        if (!AllowsBothEnds(certificate))
        {
            errors.Add($"{Section}:CertificatePath '{options.CertificatePath}': its extended key usage must allow both server authentication and client authentication (every member is both).");
        }

        var authorities = new X509Certificate2Collection();
        if (options.CaCertificatePath is { Length: > 0 } caPath)
        {
            try
            {
                authorities.ImportFromPemFile(caPath);
            }
            catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
            {
                errors.Add($"{Section}:CaCertificatePath '{caPath}' cannot be read as PEM certificates: {ex.Message}");
            }

            if (authorities.Count == 0 && errors.Count == problems)
            {
                errors.Add($"{Section}:CaCertificatePath '{caPath}' holds no certificate.");
            }
        }
        else
        {
            authorities.Add(X509CertificateLoader.LoadCertificate(certificate.RawData));
        }

        return errors.Count == problems ? new ClusterTls(certificate, authorities) : null;
    }

    /// <summary>
    /// Configures Orleans' TLS layer for mutual TLS: this member's certificate on every connection, a certificate
    /// required from the other end in both directions, and accepted only when it chains to a configured authority.
    /// </summary>
    public void Configure(TlsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.LocalCertificate = Certificate;
        options.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.RemoteCertificateValidation = IsTrusted;
    }

    /// <summary>
    /// Whether <paramref name="certificate"/> chains to one of the configured authorities. Host names are not checked:
    /// members connect to each other by IP address, and the authority is the cluster's own.
    /// </summary>
    public bool IsTrusted(X509Certificate2 certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return false;
        }

        using var trusted = new X509Chain();
        trusted.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        trusted.ChainPolicy.CustomTrustStore.AddRange(_authorities);
        trusted.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            foreach (var element in chain.ChainElements)
            {
                trusted.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        return trusted.Build(certificate);
    }

    private static bool AllowsBothEnds(X509Certificate2 certificate)
    {
        const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";
        const string ClientAuthentication = "1.3.6.1.5.5.7.3.2";
        var usages = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().SelectMany(e => e.EnhancedKeyUsages.Cast<Oid>()).Select(o => o.Value).ToList();
        return usages.Count == 0 || (usages.Contains(ServerAuthentication) && usages.Contains(ClientAuthentication));
    }
}
