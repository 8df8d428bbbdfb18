using System.Net;
using System.Security.Cryptography;
using System.Text;
using Distributed.ServiceDefaults;
using Microsoft.Extensions.Options;
using Orleans.Dashboard;

namespace Distributed.Silo;

/// <summary>
/// The Orleans dashboard (<c>Microsoft.Orleans.Dashboard</c>) at <c>/dashboard</c> on the silo's HTTP port. Open on
/// loopback; on any other address it needs <see cref="SiloDashboardOptions.Password"/> (HTTP Basic, any user name) and
/// is not served at all without one. The password is a secret of its own, shared with nothing else (the dashboard shows
/// the cluster's grains and can be reached by whoever reaches a silo's HTTP port).
/// </summary>
internal static partial class DashboardExtensions
{
    private const string Path = "/dashboard";
    /// <summary>The dashboard's grains and its options (<c>Orleans:Dashboard</c>), validated at start-up.</summary>
    public static ISiloBuilder AddDistributedDashboard(this ISiloBuilder silo, IConfiguration configuration)
    {
        silo.Services.AddValidatedOptions<SiloDashboardOptions, SiloDashboardOptionsValidator>(configuration, SiloDashboardOptions.SectionName);
        return silo.AddDashboard();
    }

    public static WebApplication MapDistributedDashboard(this WebApplication app)
    {
        var password = app.Services.GetRequiredService<IOptions<SiloDashboardOptions>>().Value.Password;

        var urls = (app.Configuration[WebHostDefaults.ServerUrlsKey] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var loopbackOnly = urls.Length > 0 && urls.All(IsLoopback);
        if (!loopbackOnly && string.IsNullOrEmpty(password))
        {
            LogDashboardOff(app.Logger);
            return app;
        }

        if (!string.IsNullOrEmpty(password))
        {
            var expected = Encoding.UTF8.GetBytes(password);
            app.UseWhen(context => context.Request.Path.StartsWithSegments(Path), branch => branch.Use(async (context, next) =>
            {
                if (!PasswordMatches(context.Request.Headers.Authorization.ToString(), expected))
                {
                    context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                    context.Response.Headers.WWWAuthenticate = "Basic realm=\"Orleans dashboard\"";
                    return;
                }

                await next(context);
            }));
        }

        app.MapOrleansDashboard(Path);
        return app;
    }

    private static bool PasswordMatches(string header, byte[] expected)
    {
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            return colon >= 0 && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(decoded[(colon + 1)..]), expected);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static bool IsLoopback(string url) =>
        Uri.TryCreate(url.Replace("*", "0.0.0.0", StringComparison.Ordinal).Replace("+", "0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri)
        && (uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip)));

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning, Message = "The Orleans dashboard is off: the silo listens beyond loopback and Orleans:Dashboard:Password is not set.")]
    private static partial void LogDashboardOff(ILogger logger);
}
