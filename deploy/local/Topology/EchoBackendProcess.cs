namespace Distributed.Topology;

/// <summary>Starts the demo echo backend (<c>samples/EchoBackend</c>).</summary>
public static class EchoBackendProcess
{
    /// <summary>
    /// Starts backend <paramref name="id"/> on <paramref name="port"/> and waits for its <c>/healthz</c>. Tests switch its
    /// failures on and off, so fault injection is on unless <paramref name="faultInjection"/> says otherwise.
    /// </summary>
    public static async Task<ManagedProcess> StartEchoAsync(string id, int port, bool faultInjection = true)
    {
        var process = ManagedProcess.Start(
            $"echo-{id}",
            RepoPaths.AppDll("samples/EchoBackend", "Distributed.EchoBackend"),
            ["--urls", $"http://127.0.0.1:{port}", "--Echo:Id", id, "--Echo:FaultInjection", faultInjection ? "true" : "false"]);
        using var http = new HttpClient();
        await Wait.ForHttpOkAsync(http, new Uri($"http://127.0.0.1:{port}/healthz"), TimeSpan.FromSeconds(60), process);
        return process;
    }
}
