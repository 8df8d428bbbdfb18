using System.Security.Cryptography.X509Certificates;

namespace Distributed.Topology;

/// <summary>HTTPS for an echo backend: its certificate (PKCS#12 with the key) and the authority a client must trust for it.</summary>
/// <param name="CertificatePath">The backend's certificate, as <see cref="LocalCertificates.WritePfx"/> writes it.</param>
/// <param name="Authority">The certificate authority that issued it (or the certificate itself, when self-signed).</param>
public sealed record EchoTls(string CertificatePath, X509Certificate2 Authority);

/// <summary>Starts the demo echo backend (<c>samples/EchoBackend</c>).</summary>
public static class EchoBackendProcess
{
    /// <summary>
    /// Starts backend <paramref name="id"/> on <paramref name="port"/> and waits for its <c>/healthz</c>. Tests switch its
    /// failures on and off, so fault injection is on unless <paramref name="faultInjection"/> says otherwise. With
    /// <paramref name="tls"/> it serves HTTPS only, with that certificate.
    /// </summary>
    public static async Task<ManagedProcess> StartEchoAsync(string id, int port, bool faultInjection = true, EchoTls? tls = null)
    {
        var scheme = tls is null ? "http" : "https";
        List<string> args = ["--urls", $"{scheme}://127.0.0.1:{port}", "--Echo:Id", id, "--Echo:FaultInjection", faultInjection ? "true" : "false"];
        if (tls is not null)
        {
            args.AddRange(["--Kestrel:Certificates:Default:Path", tls.CertificatePath]);
        }

        var process = ManagedProcess.Start($"echo-{id}", RepoPaths.AppDll("samples/EchoBackend", "Distributed.EchoBackend"), args);
        using var handler = new SocketsHttpHandler();
        if (tls is not null)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = LocalCertificates.TrustOnly(tls.Authority);
        }

        using var http = new HttpClient(handler);
        await Wait.ForHttpOkAsync(http, new Uri($"{scheme}://127.0.0.1:{port}/healthz"), TimeSpan.FromSeconds(60), process);
        return process;
    }
}
