using Distributed.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace Distributed.Silo;

/// <summary>Checks <see cref="SiloDashboardOptions"/>: a password, when set, is strong enough and not a placeholder.</summary>
internal sealed class SiloDashboardOptionsValidator : IValidateOptions<SiloDashboardOptions>
{
    public ValidateOptionsResult Validate(string? name, SiloDashboardOptions options) =>
        !string.IsNullOrEmpty(options.Password) && SecretStrength.Problem($"{SiloDashboardOptions.SectionName}:{nameof(SiloDashboardOptions.Password)}", options.Password) is { } weak
            ? ValidateOptionsResult.Fail(weak)
            : ValidateOptionsResult.Success;
}
