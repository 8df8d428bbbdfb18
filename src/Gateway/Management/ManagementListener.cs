using Microsoft.AspNetCore.Routing.Matching;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Management;

/// <summary>
/// Binds the management plane to its listener. Endpoints marked with <see cref="RequireManagementListener"/> match only
/// connections that came in on the management port, and every other endpoint (the proxy) only connections that did
/// not. The decision reads <see cref="ConnectionInfo.LocalPort"/>, never the Host header, which the client writes:
/// <c>RequireHost("*:8081")</c> would let <c>Host: x:8081</c> on the public port reach the admin API.
/// </summary>
internal static class ManagementListener
{
    /// <summary>Serves the endpoint(s) on the management listener only; on the public listener the path is proxied.</summary>
    public static TBuilder RequireManagementListener<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(ManagementEndpointMetadata.Instance);

    /// <summary>Marks a management endpoint.</summary>
    internal sealed class ManagementEndpointMetadata
    {
        public static readonly ManagementEndpointMetadata Instance = new();
    }

    /// <summary>The routing step that keeps each plane's endpoints to its own port.</summary>
    internal sealed class MatcherPolicy(IOptions<ManagementOptions> management) : Microsoft.AspNetCore.Routing.MatcherPolicy, IEndpointSelectorPolicy
    {
        private readonly int _port = management.Value.Port;

        // Before routing's other policies (host, method), so a management path on the public port falls through to the
        // proxy's catch-all route exactly as any other path does.
        public override int Order => -1000;

        public bool AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints) => endpoints.Count > 0;

        public Task ApplyAsync(HttpContext httpContext, CandidateSet candidates)
        {
            var onManagementListener = httpContext.Connection.LocalPort == _port;
            for (var i = 0; i < candidates.Count; i++)
            {
                // Routing's own stand-ins (the 405 for a method a path does not take) belong to neither plane.
                var endpoint = candidates[i].Endpoint;
                var isManagement = endpoint.Metadata.GetMetadata<ManagementEndpointMetadata>() is not null;
                if (endpoint is RouteEndpoint && isManagement != onManagementListener)
                {
                    candidates.SetValidity(i, false);
                }
            }

            return Task.CompletedTask;
        }
    }
}
