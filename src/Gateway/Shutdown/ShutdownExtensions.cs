using Distributed.ServiceDefaults;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Distributed.Gateway.Shutdown;

/// <summary>Registration of the gateway's graceful shutdown (<see cref="GracefulShutdown"/>).</summary>
internal static class ShutdownExtensions
{
    private const string WebSocket = "websocket";

    /// <summary>The shutdown phases, their validated options and the readiness check that turns 503 on SIGTERM.</summary>
    public static IServiceCollection AddGracefulShutdown(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<ShutdownOptions, ShutdownOptionsValidator>(configuration, ShutdownOptions.SectionName);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<GracefulShutdown>();
        services.AddHostedService(sp => sp.GetRequiredService<GracefulShutdown>());
        services.AddHealthChecks().AddCheck<ShutdownHealthCheck>("shutdown", tags: ["ready"]);
        return services;
    }

    /// <summary>
    /// First in the pipeline: while draining, every request's connection is closed after its response (HTTP/1.1
    /// <c>Connection: close</c>, HTTP/2 GOAWAY, both by Kestrel); proxied WebSockets are set up to get a Close frame
    /// when the drain ends.
    /// </summary>
    public static WebApplication UseGracefulShutdown(this WebApplication app)
    {
        var shutdown = app.Services.GetRequiredService<GracefulShutdown>();
        app.Use((context, next) =>
        {
            if (!WrapWebSocket(context, shutdown.Closing) && shutdown.IsDraining)
            {
                context.Features.Get<IConnectionLifetimeNotificationFeature>()?.RequestClose();
            }

            return next(context);
        });
        return app;
    }

    // A WebSocket outlives the drain, so it is closed by a Close frame, not at a response boundary. Other upgrades
    // (rare; YARP proxies only SPDY besides) end when Kestrel stops.
    private static bool WrapWebSocket(HttpContext context, CancellationToken closing)
    {
        var headers = context.Request.Headers;
        if (headers.Upgrade.Count > 0
            && string.Equals(headers.Upgrade, WebSocket, StringComparison.OrdinalIgnoreCase)
            && context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgrade)
        {
            context.Features.Set<IHttpUpgradeFeature>(new GoingAwayUpgradeFeature(upgrade, closing));
            return true;
        }

        if (context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true } connect
            && string.Equals(connect.Protocol, WebSocket, StringComparison.OrdinalIgnoreCase))
        {
            context.Features.Set<IHttpExtendedConnectFeature>(new GoingAwayExtendedConnectFeature(connect, closing));
            return true;
        }

        return false;
    }

    /// <summary>Readiness: unhealthy (503) from SIGTERM on, so DNS and load balancers take the gateway out of rotation.</summary>
    private sealed class ShutdownHealthCheck(GracefulShutdown shutdown) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(shutdown.IsDraining
                ? HealthCheckResult.Unhealthy("Shutting down: draining connections before the listeners close.")
                : HealthCheckResult.Healthy());
    }
}
