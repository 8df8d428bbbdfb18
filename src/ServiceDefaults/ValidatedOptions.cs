using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Distributed.ServiceDefaults;

/// <summary>
/// The one shape every configuration section takes: an options class bound through <see cref="IOptions{TOptions}"/>,
/// checked by its <see cref="IValidateOptions{TOptions}"/> at start-up (<c>ValidateOnStart</c>). Where a host needs a
/// value before it is built (the listeners' URLs, the clustering), <see cref="Load"/> checks the section eagerly with
/// the same validator.
/// </summary>
public static class ValidatedOptions
{
    /// <summary>Binds <paramref name="sectionName"/> to <typeparamref name="TOptions"/>, validated at start-up by <typeparamref name="TValidator"/>.</summary>
    public static OptionsBuilder<TOptions> AddValidatedOptions<TOptions, TValidator>(this IServiceCollection services, IConfiguration configuration, string sectionName)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>, TValidator>());
        return services.AddOptions<TOptions>().Bind(configuration.GetSection(sectionName)).ValidateOnStart();
    }

    /// <summary>
    /// Binds and checks a section before the host is built. Throws <see cref="OptionsValidationException"/> listing every
    /// problem, each naming its key: values the binder cannot convert, what <paramref name="validator"/> refuses, and
    /// what <paramref name="check"/> (checks that need more than the bound values, such as loading files) adds.
    /// <paramref name="bindingHint"/> follows a value the binder could not convert (e.g. the words an enum takes).
    /// </summary>
    public static TOptions Load<TOptions>(IConfiguration configuration, string sectionName, IValidateOptions<TOptions>? validator, Action<TOptions, List<string>>? check = null, string? bindingHint = null)
        where TOptions : class, new()
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new TOptions();
        var errors = new List<string>();
        try
        {
            configuration.GetSection(sectionName).Bind(options);
        }
        catch (InvalidOperationException ex) when (ConfigurationErrors.Problems(ex) is { Count: > 0 } problems)
        {
            errors.AddRange(problems.Select(p => bindingHint is null ? p : $"{p} {bindingHint}"));
        }

        if (errors.Count == 0)
        {
            if (validator?.Validate(Options.DefaultName, options) is { Failed: true } result)
            {
                errors.AddRange(result.Failures ?? []);
            }

            check?.Invoke(options, errors);
        }

        return errors.Count == 0 ? options : throw new OptionsValidationException(sectionName, typeof(TOptions), errors);
    }
}
