using System.Net;
using System.Threading.RateLimiting;
using Distributed.Gateway.Management;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Hardening;

/// <summary>
/// Methods that cannot be proxied refused, forwarded headers from trusted proxies only, and a per-client-IP rate limit
/// on the public listener.
/// </summary>
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
            if (IPAddress.TryParse(proxy, out var ip) && !proxy.Contains('/', StringComparison.Ordinal))
            {
                proxies.Add(ip);
            }
            else
            {
                errors.Add($"Balancer:ForwardedHeaders:KnownProxies contains '{proxy}', which is not an IP address (networks go in Balancer:ForwardedHeaders:KnownNetworks).");
            }
        }

        var networks = new List<System.Net.IPNetwork>();
        foreach (var network in options.KnownNetworks)
        {
            // TryParse accepts an address with host bits set ("10.0.0.1/8"); such a network is refused rather than
            // guessed at, since the operator may have meant one proxy or another network.
            var slash = network.IndexOf('/', StringComparison.Ordinal);
            if (System.Net.IPNetwork.TryParse(network, out var parsed) && slash > 0
                && IPAddress.TryParse(network.AsSpan(0, slash), out var written) && written.Equals(parsed.BaseAddress))
            {
                networks.Add(parsed);
            }
            else
            {
                errors.Add($"Balancer:ForwardedHeaders:KnownNetworks contains '{network}', which is not a network in CIDR notation with no host bits set, e.g. 10.0.0.0/8 or fd00::/8.");
            }
        }

        if (errors.Count > 0)
        {
            throw new OptionsValidationException("Balancer", typeof(EdgeProtectionOptions), errors);
        }

        // ASP.NET Core's forwarded-headers middleware believes everyone when both of its lists are empty (its own
        // defaults are the loopback proxy and network), so with nothing configured it is not used at all.
        builder.Services.Configure<ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            o.KnownProxies.Clear();
            o.KnownIPNetworks.Clear();
            proxies.ForEach(o.KnownProxies.Add);
            networks.ForEach(o.KnownIPNetworks.Add);

            // Walk X-Forwarded-For from the right through every trusted hop (CDN, then ingress, ...): the client is the
            // first address that is not a trusted proxy, and what that client wrote further left is never believed.
            o.ForwardLimit = null;
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
        app.UseUnproxiableMethodRefusal();
        var options = app.Services.GetRequiredService<IOptions<EdgeProtectionOptions>>().Value;
        if (options.TrustsProxies)
        {
            app.UseForwardedHeaders();
        }

        if (options.PermitsPerSecond > 0)
        {
            app.UseRateLimiter();
        }

        return app;
    }
}
