using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Hardening;

/// <summary>Checks <see cref="TrustedProxiesOptions"/>; every message names the offending key and value.</summary>
internal sealed class TrustedProxiesOptionsValidator : IValidateOptions<TrustedProxiesOptions>
{
    private const string Section = TrustedProxiesOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, TrustedProxiesOptions options)
    {
        var errors = new List<string>();
        foreach (var proxy in options.KnownProxies.Where(p => !TrustedProxiesOptions.TryParseProxy(p, out _)))
        {
            errors.Add($"{Section}:KnownProxies contains '{proxy}', which is not an IP address (networks go in {Section}:KnownNetworks).");
        }

        foreach (var network in options.KnownNetworks.Where(n => !TrustedProxiesOptions.TryParseNetwork(n, out _)))
        {
            errors.Add($"{Section}:KnownNetworks contains '{network}', which is not a network in CIDR notation with no host bits set, e.g. 10.0.0.0/8 or fd00::/8.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
