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
        app.MapGet("/ui", (HttpContext context) =>
        {
            // The page only talks to this origin's admin API, and no other site may frame it (clickjacking).
            context.Response.Headers.ContentSecurityPolicy = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'";
            return Results.Bytes(Html.Value, "text/html; charset=utf-8");
        }).RequireManagementListener();
        return app;
    }
}
