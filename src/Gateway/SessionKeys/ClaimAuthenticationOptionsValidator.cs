using Distributed.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.SessionKeys;

/// <summary>Checks <see cref="ClaimAuthenticationOptions"/>; every message names the offending key.</summary>
internal sealed class ClaimAuthenticationOptionsValidator : IValidateOptions<ClaimAuthenticationOptions>
{
    private const string Section = ClaimAuthenticationOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, ClaimAuthenticationOptions options)
    {
        if (!options.IsConfigured)
        {
            return ValidateOptionsResult.Success; // pools keyed by a claim need it: BalancerOptionsValidator says so
        }

        var errors = new List<string>();
        if (!string.IsNullOrWhiteSpace(options.Authority) && !string.IsNullOrWhiteSpace(options.SigningKey))
        {
            errors.Add($"{Section}: set Authority or SigningKey, not both.");
        }

        if (!string.IsNullOrWhiteSpace(options.Authority) && (!Uri.TryCreate(options.Authority, UriKind.Absolute, out var authority) || authority.Scheme != Uri.UriSchemeHttps))
        {
            errors.Add($"{Section}:Authority must be an absolute https URL (was '{options.Authority}').");
        }

        if (string.IsNullOrWhiteSpace(options.Audience))
        {
            errors.Add($"{Section}:Audience must be set: tokens issued for other services are not accepted.");
        }

        if (!string.IsNullOrWhiteSpace(options.SigningKey))
        {
            if (string.IsNullOrWhiteSpace(options.Issuer))
            {
                errors.Add($"{Section}:Issuer must be set with {Section}:SigningKey.");
            }

            if (SecretStrength.IsPlaceholder(options.SigningKey))
            {
                errors.Add($"{Section}:SigningKey is the placeholder value from the deployment manifests; generate one with openssl rand -base64 32.");
            }
            else if (!SigningKeys.TryDecode(options.SigningKey, out _))
            {
                errors.Add($"{Section}:SigningKey must be base64 of at least 32 bytes.");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
