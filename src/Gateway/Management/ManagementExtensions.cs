using Distributed.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Management;

/// <summary>Hosts the management listener beside the public one.</summary>
internal static class ManagementExtensions
{
    private const string DefaultPublicUrl = "http://127.0.0.1:8080";

    // The management listener's entry among Kestrel's endpoints when the public ones come from Kestrel:Endpoints.
    private const string ManagementEndpoint = "Kestrel:Endpoints:DistributedManagement:Url";

    /// <summary>
    /// Listens on the public URLs and the management URL (<c>Balancer:Admin:Url</c>). The public listeners are the
    /// <c>Kestrel:Endpoints</c> when any is configured (HTTPS with certificates, protocols), else <c>Urls</c>.
    /// </summary>
    public static WebApplicationBuilder AddManagementListener(this WebApplicationBuilder builder)
    {
        // The listener's URL is needed now, before the host is built: the section is checked now, by the validator that
        // also runs at start-up.
        var management = ValidatedOptions.Load(builder.Configuration, ManagementOptions.SectionName, new ManagementOptionsValidator());
        var endpoints = builder.Configuration.GetSection("Kestrel:Endpoints").GetChildren().Select(e => e["Url"]).OfType<string>().ToList();
        var publicSetting = endpoints.Count > 0 ? "Kestrel:Endpoints" : "Urls";
        var publicUrls = endpoints.Count > 0
            ? endpoints
            : [.. (builder.Configuration[WebHostDefaults.ServerUrlsKey] is { Length: > 0 } urls ? urls : DefaultPublicUrl).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
        if (publicUrls.Any(u => Uri.TryCreate(u.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri) && uri.Port == management.Port))
        {
            throw new OptionsValidationException(ManagementOptions.SectionName, typeof(ManagementOptions), [$"{ManagementOptions.SectionName}:Url uses port {management.Port}, which the public listener ({publicSetting}) uses too."]);
        }

        if (endpoints.Count > 0)
        {
            // Kestrel ignores Urls once Kestrel:Endpoints has entries: the management listener joins them instead.
            builder.Configuration.AddInMemoryCollection([new(ManagementEndpoint, management.Url)]);
        }
        else
        {
            builder.WebHost.UseUrls([.. publicUrls, management.Url]);
        }

        builder.Services.AddValidatedOptions<ManagementOptions, ManagementOptionsValidator>(builder.Configuration, ManagementOptions.SectionName);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<MatcherPolicy, ManagementListener.MatcherPolicy>());
        return builder;
    }

    /// <summary>Health and metrics endpoints on the management listener only, so every public path goes to the backends.</summary>
    public static WebApplication MapManagementEndpoints(this WebApplication app)
    {
        app.MapDefaultEndpoints().RequireManagementListener();
        app.MapPrometheusEndpoint().RequireManagementListener();
        return app;
    }
}
