using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Hardening;

/// <summary>Checks <see cref="RateLimitOptions"/>; the message names the keys.</summary>
internal sealed class RateLimitOptionsValidator : IValidateOptions<RateLimitOptions>
{
    public ValidateOptionsResult Validate(string? name, RateLimitOptions options) =>
        options.PermitsPerSecond < 0 || options.Burst < 0
            ? ValidateOptionsResult.Fail($"{RateLimitOptions.SectionName}:PermitsPerSecond and Burst must not be negative (were {options.PermitsPerSecond} and {options.Burst}).")
            : ValidateOptionsResult.Success;
}
