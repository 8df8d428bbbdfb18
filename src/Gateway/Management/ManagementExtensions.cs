using Distributed.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Management;

/// <summary>Hosts the management listener beside the public one.</summary>
internal static class ManagementExtensions
{
    private const string DefaultPublicUrl = "http://127.0.0.1:8080";

    /// <summary>Listens on the public URLs (<c>Urls</c>) and the management URL (<c>Balancer:Admin:Url</c>).</summary>
    public static WebApplicationBuilder AddManagementListener(this WebApplicationBuilder builder)
    {
        var management = ManagementOptions.Load(builder.Configuration);
        var publicUrls = (builder.Configuration[WebHostDefaults.ServerUrlsKey] is { Length: > 0 } urls ? urls : DefaultPublicUrl)
            .Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (publicUrls.Any(u => Uri.TryCreate(u, UriKind.Absolute, out var uri) && uri.Port == management.Port))
        {
            throw new OptionsValidationException(ManagementOptions.SectionName, typeof(ManagementOptions), [$"{ManagementOptions.SectionName}:Url uses port {management.Port}, which the public listener (Urls) uses too."]);
        }

        builder.WebHost.UseUrls([.. publicUrls, management.Url]);
        builder.Services.AddSingleton(management);
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
