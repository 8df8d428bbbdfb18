using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Distributed.Grains.Abstractions;

/// <summary>
/// The certificate authorities a pool's HTTPS backends must chain to, instead of the operating system's trust store.
/// Gateways load it from their configuration and use it to forward; the PEM text travels to the silos with the pool's
/// health settings (<see cref="ActiveHealthSettings.TrustedAuthorities"/>) so the active probes trust exactly the same.
/// </summary>
public sealed class BackendTrust
{
    /// <summary>
    /// Longest PEM accepted, in characters: a private CA and its intermediates take a few kilobytes, and the text is
    /// stored with the pool and sent to every prober. Public CAs need no setting: the OS trust store has them.
    /// </summary>
    public const int MaxPemLength = 64 * 1024;

    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1", "Server Authentication");

    private BackendTrust(string pem, X509Certificate2Collection authorities)
    {
        Pem = pem;
        Authorities = authorities;
    }

    /// <summary>The authorities as PEM text.</summary>
    public string Pem { get; }

    /// <summary>The authorities.</summary>
    public X509Certificate2Collection Authorities { get; }

    /// <summary>
    /// Reads the certificates of <paramref name="pem"/> (one or more <c>CERTIFICATE</c> blocks; anything else in the text
    /// is ignored, as OpenSSL does). Returns <c>null</c> and says why in <paramref name="error"/> when it holds none,
    /// a malformed one, or is longer than <see cref="MaxPemLength"/>.
    /// </summary>
    public static BackendTrust? Parse(string pem, out string? error)
    {
        ArgumentNullException.ThrowIfNull(pem);
        if (pem.Length > MaxPemLength)
        {
            error = $"is {pem.Length} characters long, more than the {MaxPemLength} a CA bundle for private backends needs; leave it unset to trust the operating system's store.";
            return null;
        }

        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPem(pem);
        }
        catch (CryptographicException ex)
        {
            error = $"holds a certificate that cannot be read: {ex.Message}";
            return null;
        }

        if (authorities.Count == 0)
        {
            error = "holds no PEM certificate (-----BEGIN CERTIFICATE-----).";
            return null;
        }

        error = null;
        return new BackendTrust(pem, authorities);
    }

    /// <summary>
    /// A chain policy for TLS to the backends: the server's certificate must chain to one of <see cref="Authorities"/>
    /// (and to nothing else) and allow server authentication. Revocation is not checked, as .NET's own default for TLS
    /// clients; host names are checked by the TLS layer as usual, against the backend address's host.
    /// </summary>
    public X509ChainPolicy CreateChainPolicy()
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
        };
        policy.CustomTrustStore.AddRange(Authorities);
        policy.ApplicationPolicy.Add(ServerAuthentication);
        return policy;
    }
}
