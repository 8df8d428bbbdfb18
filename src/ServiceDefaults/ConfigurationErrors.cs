using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Distributed.ServiceDefaults;

/// <summary>Turns invalid configuration into a short message and an exit code instead of a stack trace.</summary>
public static class ConfigurationErrors
{
    /// <summary>Exit code of a process stopped by invalid configuration (EX_CONFIG).</summary>
    public const int ExitCode = 78;

    /// <summary>
    /// Runs <paramref name="host"/>; reports invalid configuration as a list of problems: what the validators refused
    /// (<see cref="OptionsValidationException"/>, one section or several at once) and values the configuration binder
    /// could not convert (a word where a duration or a number belongs).
    /// </summary>
    public static int Run(Action host)
    {
        ArgumentNullException.ThrowIfNull(host);
        try
        {
            host();
            return 0;
        }
        catch (Exception ex) when (Problems(ex) is { Count: > 0 } problems)
        {
            Console.Error.WriteLine("Invalid configuration; the process did not start:");
            foreach (var problem in problems)
            {
                Console.Error.WriteLine($"  - {problem}");
            }

            return ExitCode;
        }
    }

    /// <summary>
    /// The configuration problems <paramref name="exception"/> reports, each naming its key; empty when it is not about
    /// configuration.
    /// </summary>
    public static IReadOnlyList<string> Problems(Exception exception) => exception switch
    {
        OptionsValidationException invalid => [.. invalid.Failures],
        AggregateException { InnerExceptions: var inner } when inner.Count > 0 && inner.All(e => Problems(e).Count > 0) => [.. inner.SelectMany(Problems)],
        InvalidOperationException unconvertible when IsFromBinder(unconvertible) => [Describe(unconvertible)],
        _ => [],
    };

    // "Failed to convert configuration value 'abc' at 'Balancer:ReportInterval' to type 'System.TimeSpan'." and why.
    private static string Describe(InvalidOperationException exception)
    {
        var reason = exception.GetBaseException();
        return reason == exception ? exception.Message : $"{exception.Message} ({reason.Message})";
    }

    private static bool IsFromBinder(Exception exception) => exception.TargetSite?.DeclaringType == typeof(ConfigurationBinder);
}
