using System.Net;
using System.Threading.RateLimiting;
using Distributed.Gateway.Management;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Hardening;

/// <summary>Forwarded headers from trusted proxies only, and a per-client-IP rate limit on the public listener.</summary>
internal static class EdgeProtectionExtensions
{
    public static WebApplicationBuilder AddEdgeProtection(this WebApplicationBuilder builder)
    {
        var options = new EdgeProtectionOptions();
        builder.Configuration.GetSection("Balancer:RateLimit").Bind(options);
        builder.Configuration.GetSection("Balancer:ForwardedHeaders").Bind(options);
        var errors = new List<string>();
        if (options.PermitsPerSecond < 0 || options.Burst < 0)
        {
            errors.Add("Balancer:RateLimit:PermitsPerSecond and Burst must not be negative.");
        }

        var proxies = new List<IPAddress>();
        foreach (var proxy in options.KnownProxies)
        {
            if (IPAddress.TryParse(proxy, out var ip))
            {
                proxies.Add(ip);
            }
            else
            {
                errors.Add($"Balancer:ForwardedHeaders:KnownProxies contains '{proxy}', which is not an IP address.");
            }
        }

        if (errors.Count > 0)
        {
            throw new OptionsValidationException("Balancer", typeof(EdgeProtectionOptions), errors);
        }

        builder.Services.Configure<ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            o.KnownProxies.Clear();
            o.KnownIPNetworks.Clear();
            proxies.ForEach(o.KnownProxies.Add);
        });

        if (options.PermitsPerSecond > 0)
        {
            var burst = options.Burst ?? options.PermitsPerSecond * 2;
            builder.Services.AddRateLimiter(limiter =>
            {
                limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
                limiter.OnRejected = (context, _) =>
                {
                    context.HttpContext.Response.Headers.RetryAfter = "1";
                    return ValueTask.CompletedTask;
                };
                limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                {
                    var management = context.RequestServices.GetRequiredService<ManagementOptions>().Port;
                    return context.Connection.LocalPort == management
                        ? RateLimitPartition.GetNoLimiter("management")
                        : RateLimitPartition.GetTokenBucketLimiter(
                            context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                            _ => new TokenBucketRateLimiterOptions
                            {
                                TokenLimit = Math.Max(1, burst),
                                TokensPerPeriod = options.PermitsPerSecond,
                                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                                QueueLimit = 0,
                                AutoReplenishment = true,
                            });
                });
            });
        }

        builder.Services.AddSingleton(Options.Create(options));
        return builder;
    }

    public static WebApplication UseEdgeProtection(this WebApplication app)
    {
        app.UseForwardedHeaders();
        if (app.Services.GetRequiredService<IOptions<EdgeProtectionOptions>>().Value.PermitsPerSecond > 0)
        {
            app.UseRateLimiter();
        }

        return app;
    }
}
