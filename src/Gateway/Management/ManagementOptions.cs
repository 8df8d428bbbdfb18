using System.Net;
using Distributed.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Management;

/// <summary>
/// The management listener (<c>Balancer:Admin</c>): health, and later admin API, metrics and status page, on their own
/// port so they never shadow a proxied path and can be firewalled apart from client traffic.
/// </summary>
public sealed class ManagementOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Balancer:Admin";

    /// <summary>URL of the management listener. <value>Default: <c>http://127.0.0.1:8081</c>.</value></summary>
    public string Url { get; set; } = "http://127.0.0.1:8081";

    /// <summary>
    /// Bearer API key for the admin API; required when <see cref="Url"/> is not a loopback address. At least 128 bits
    /// (32 hexadecimal or 22 base64 characters), and never a manifest's placeholder.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>The listener's port.</summary>
    public int Port => new Uri(Url).Port;

    /// <summary>Reads and validates the section; throws naming the key when it is invalid.</summary>
    public static ManagementOptions Load(IConfiguration configuration)
    {
        var options = new ManagementOptions();
        configuration.GetSection(SectionName).Bind(options);
        var errors = new List<string>();
        if (!Uri.TryCreate(options.Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            errors.Add($"{SectionName}:Url must be an absolute http(s) URL, e.g. http://127.0.0.1:8081 (was '{options.Url}').");
        }
        else if (!IsLoopback(uri.Host) && string.IsNullOrWhiteSpace(options.ApiKey))
        {
            errors.Add($"{SectionName}:ApiKey must be set when {SectionName}:Url ('{options.Url}') is reachable beyond loopback.");
        }

        if (!string.IsNullOrEmpty(options.ApiKey) && SecretStrength.Problem($"{SectionName}:ApiKey", options.ApiKey) is { } weak)
        {
            errors.Add(weak);
        }

        return errors.Count == 0 ? options : throw new OptionsValidationException(SectionName, typeof(ManagementOptions), errors);
    }

    private static bool IsLoopback(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
}
