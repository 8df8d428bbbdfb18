using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Distributed.ServiceDefaults;

/// <summary>Defaults every Distributed host applies, in the spirit of eShop's ServiceDefaults.</summary>
public static class HostingExtensions
{
    /// <summary>Liveness health checks; hosts add readiness checks tagged <c>ready</c>.</summary>
    public static TBuilder AddDistributedDefaults<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddHealthChecks();
        return builder;
    }

    /// <summary>
    /// <c>/healthz</c> answers 200 while the process runs; <c>/readyz</c> runs the checks tagged <c>ready</c>.
    /// Returns the group so a host can confine them to a listener (<c>RequireHost("*:port")</c>).
    /// </summary>
    public static RouteGroupBuilder MapDefaultEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var group = endpoints.MapGroup("");
        group.MapHealthChecks("/healthz", new() { Predicate = _ => false });
        group.MapHealthChecks("/readyz", new() { Predicate = check => check.Tags.Contains("ready") });
        return group;
    }
}
