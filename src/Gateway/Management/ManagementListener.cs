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

    /// <summary>
    /// The routing step that keeps each plane's endpoints to its own port. It splits routing's decision tree by plane when
    /// the tree is built, so a request pays one port comparison (a jump-table lookup) rather than a candidate set and a
    /// selector pass: routing's fast path for a single candidate stays open to every proxied request.
    /// </summary>
    internal sealed class MatcherPolicy(IOptions<ManagementOptions> management) : Microsoft.AspNetCore.Routing.MatcherPolicy, INodeBuilderPolicy, IEndpointSelectorPolicy
    {
        private readonly int _port = management.Value.Port;

        // Before routing's other policies (HTTP method at -1000, host), so each plane gets its own method checks: a
        // management path on the public port falls through to the proxy's catch-all route exactly as any other path does,
        // and a management path with the wrong method on the management port is a 405 of that path alone.
        public override int Order => -1001;

        // Endpoints whose metadata is only known per request (dynamic ones) cannot be split in advance: the selector
        // pass below decides for them, as routing's own host and method policies do.
        bool INodeBuilderPolicy.AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints) => endpoints.Count > 0 && !ContainsDynamicEndpoints(endpoints);

        bool IEndpointSelectorPolicy.AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints) => ContainsDynamicEndpoints(endpoints);

        public IReadOnlyList<PolicyNodeEdge> GetEdges(IReadOnlyList<Endpoint> endpoints) =>
            [.. endpoints.GroupBy(IsManagement).Select(plane => new PolicyNodeEdge(plane.Key, plane.ToList()))];

        public PolicyJumpTable BuildJumpTable(int exitDestination, IReadOnlyList<PolicyJumpTableEdge> edges)
        {
            // A plane without endpoints at this node goes to the exit: routing answers 404.
            var managementDestination = exitDestination;
            var publicDestination = exitDestination;
            foreach (var edge in edges)
            {
                if ((bool)edge.State)
                {
                    managementDestination = edge.Destination;
                }
                else
                {
                    publicDestination = edge.Destination;
                }
            }

            return new PlaneJumpTable(_port, managementDestination, publicDestination);
        }

        public Task ApplyAsync(HttpContext httpContext, CandidateSet candidates)
        {
            var onManagementListener = httpContext.Connection.LocalPort == _port;
            for (var i = 0; i < candidates.Count; i++)
            {
                // Routing's own stand-ins (the 405 for a method a path does not take) belong to neither plane.
                var endpoint = candidates[i].Endpoint;
                if (endpoint is RouteEndpoint && IsManagement(endpoint) != onManagementListener)
                {
                    candidates.SetValidity(i, false);
                }
            }

            return Task.CompletedTask;
        }

        private static bool IsManagement(Endpoint endpoint) => endpoint.Metadata.GetMetadata<ManagementEndpointMetadata>() is not null;

        private sealed class PlaneJumpTable(int managementPort, int managementDestination, int publicDestination) : PolicyJumpTable
        {
            public override int GetDestination(HttpContext httpContext) =>
                httpContext.Connection.LocalPort == managementPort ? managementDestination : publicDestination;
        }
    }
}
