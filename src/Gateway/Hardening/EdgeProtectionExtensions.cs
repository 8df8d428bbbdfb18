using System.Threading.RateLimiting;
using Distributed.Gateway.Management;
using Distributed.ServiceDefaults;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Hardening;

/// <summary>
/// Methods that cannot be proxied refused, forwarded headers from trusted proxies only (<see cref="TrustedProxiesOptions"/>),
/// and a per-client-IP rate limit on the public listener (<see cref="RateLimitOptions"/>).
/// </summary>
internal static class EdgeProtectionExtensions
{
    public static WebApplicationBuilder AddEdgeProtection(this WebApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<TrustedProxiesOptions, TrustedProxiesOptionsValidator>(builder.Configuration, TrustedProxiesOptions.SectionName);
        builder.Services.AddValidatedOptions<RateLimitOptions, RateLimitOptionsValidator>(builder.Configuration, RateLimitOptions.SectionName);

        // ASP.NET Core's forwarded-headers middleware believes everyone when both of its lists are empty (its own
        // defaults are the loopback proxy and network), so with nothing configured it is not used at all.
        builder.Services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<TrustedProxiesOptions>>((o, trusted) =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            o.KnownProxies.Clear();
            o.KnownIPNetworks.Clear();
            foreach (var proxy in trusted.Value.KnownProxies)
            {
                o.KnownProxies.Add(TrustedProxiesOptions.TryParseProxy(proxy, out var address) ? address : throw new InvalidOperationException("Validated at start-up."));
            }

            foreach (var network in trusted.Value.KnownNetworks)
            {
                o.KnownIPNetworks.Add(TrustedProxiesOptions.TryParseNetwork(network, out var parsed) ? parsed : throw new InvalidOperationException("Validated at start-up."));
            }

            // Walk X-Forwarded-For from the right through every trusted hop (CDN, then ingress, ...): the client is the
            // first address that is not a trusted proxy, and what that client wrote further left is never believed.
            o.ForwardLimit = null;
        });

        builder.Services.AddRateLimiter(_ => { });
        builder.Services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitOptions>, IOptions<ManagementOptions>>((limiter, rate, management) =>
        {
            var permits = rate.Value.PermitsPerSecond;
            var burst = Math.Max(1, rate.Value.Burst ?? permits * 2);
            var managementPort = management.Value.Port;
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = (context, _) =>
            {
                context.HttpContext.Response.Headers.RetryAfter = "1";
                return ValueTask.CompletedTask;
            };
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                context.Connection.LocalPort == managementPort
                    ? RateLimitPartition.GetNoLimiter("management")
                    : RateLimitPartition.GetTokenBucketLimiter(
                        context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                        _ => new TokenBucketRateLimiterOptions
                        {
                            TokenLimit = burst,
                            TokensPerPeriod = permits,
                            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                            QueueLimit = 0,
                            AutoReplenishment = true,
                        }));
        });
        return builder;
    }

    public static WebApplication UseEdgeProtection(this WebApplication app)
    {
        app.UseUnproxiableMethodRefusal();
        if (app.Services.GetRequiredService<IOptions<TrustedProxiesOptions>>().Value.TrustsProxies)
        {
            app.UseForwardedHeaders();
        }

        if (app.Services.GetRequiredService<IOptions<RateLimitOptions>>().Value.Enabled)
        {
            app.UseRateLimiter();
        }

        return app;
    }
}
