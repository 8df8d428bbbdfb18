namespace Distributed.Gateway.Management;

/// <summary>
/// The live status page, <c>/ui</c> on the management listener: plain HTML and JavaScript (no build step) that polls the
/// admin API every second with the key from the URL fragment (<c>/ui#key=...</c>) or a form.
/// </summary>
internal static class StatusPage
{
    private static readonly Lazy<byte[]> Html = new(() =>
    {
        using var stream = typeof(StatusPage).Assembly.GetManifestResourceStream("Distributed.Gateway.Management.status.html")
            ?? throw new InvalidOperationException("The status page resource is missing from the build.");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    });

    public static WebApplication MapStatusPage(this WebApplication app)
    {
        var management = app.Services.GetRequiredService<ManagementOptions>();
        app.MapGet("/ui", (HttpContext context) =>
        {
            // The page only talks to this origin's admin API.
            context.Response.Headers.ContentSecurityPolicy = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'";
            return Results.Bytes(Html.Value, "text/html; charset=utf-8");
        }).RequireHost($"*:{management.Port}");
        return app;
    }
}
