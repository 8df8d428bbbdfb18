using System.Security.Cryptography;
using System.Text;

namespace Distributed.Gateway.Management;

/// <summary>Bearer API key check of every admin call; a gateway without a configured key refuses them all.</summary>
internal sealed class AdminApiKeyFilter(string? apiKey) : IEndpointFilter
{
    private readonly byte[]? _expected = apiKey is { Length: > 0 } ? Encoding.UTF8.GetBytes(apiKey) : null;

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var http = context.HttpContext;
        if (_expected is null)
        {
            return AdminApi.Problem(StatusCodes.Status401Unauthorized, "Admin API disabled", $"Set {ManagementOptions.SectionName}:ApiKey to use the admin API.");
        }

        var header = http.Request.Headers.Authorization.ToString();
        var presented = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? Encoding.UTF8.GetBytes(header[7..].Trim()) : [];
        if (!CryptographicOperations.FixedTimeEquals(presented, _expected))
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
            return AdminApi.Problem(StatusCodes.Status401Unauthorized, "Unauthorized", $"Send Authorization: Bearer <{ManagementOptions.SectionName}:ApiKey>.");
        }

        return await next(context);
    }
}
