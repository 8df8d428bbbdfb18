using Distributed.Grains.Abstractions;

namespace Distributed.Gateway.Configuration;

/// <summary>
/// How a pool's gateways and health probes trust its HTTPS backends (<c>Balancer:Pools:&lt;pool&gt;:BackendTls</c>).
/// The backend's certificate must chain to a trusted authority and name the host of the backend's address (a DNS
/// name, or an IP address in an IP subject alternative name); there is no setting that accepts any certificate.
/// </summary>
public sealed class BackendTlsOptions
{
    /// <summary>
    /// PEM file of the certificate authorities the backends' certificates must chain to, instead of the operating
    /// system's trust store (e.g. a private CA's <c>ca.crt</c>; several certificates may follow each other). Read at
    /// start-up; to rotate a CA, list the old and the new one in the file and restart the gateways one by one.
    /// <value>Default: none (the operating system's trust store).</value>
    /// </summary>
    public string? CaCertificatePath { get; set; }

    /// <summary>
    /// Loads the trust <see cref="CaCertificatePath"/> names: <c>null</c> for the operating system's store when it is
    /// unset. Returns false and says why in <paramref name="error"/> (to follow the key) when the file is missing,
    /// unreadable or holds no usable certificate.
    /// </summary>
    public bool TryLoad(out BackendTrust? trust, out string? error)
    {
        trust = null;
        error = null;
        if (string.IsNullOrWhiteSpace(CaCertificatePath))
        {
            return true;
        }

        string pem;
        try
        {
            pem = File.ReadAllText(CaCertificatePath);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            error = $"names '{CaCertificatePath}', which does not exist.";
            return false;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            error = $"names '{CaCertificatePath}', which cannot be read: {ex.Message}";
            return false;
        }

        trust = BackendTrust.Parse(pem, out var invalid);
        error = invalid is null ? null : $"names '{CaCertificatePath}', which {invalid}";
        return trust is not null;
    }
}
