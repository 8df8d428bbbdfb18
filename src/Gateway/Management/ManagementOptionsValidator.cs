using System.Net;
using Distributed.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Management;

/// <summary>Checks <see cref="ManagementOptions"/>; every message names the offending key.</summary>
internal sealed class ManagementOptionsValidator : IValidateOptions<ManagementOptions>
{
    private const string Section = ManagementOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, ManagementOptions options)
    {
        var errors = new List<string>();
        if (!Uri.TryCreate(options.Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            errors.Add($"{Section}:Url must be an absolute http(s) URL, e.g. http://127.0.0.1:8081 (was '{options.Url}').");
        }
        else if (!IsLoopback(uri.Host) && string.IsNullOrWhiteSpace(options.ApiKey))
        {
            errors.Add($"{Section}:ApiKey must be set when {Section}:Url ('{options.Url}') is reachable beyond loopback.");
        }

        if (!string.IsNullOrEmpty(options.ApiKey) && SecretStrength.Problem($"{Section}:ApiKey", options.ApiKey) is { } weak)
        {
            errors.Add(weak);
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static bool IsLoopback(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
}
