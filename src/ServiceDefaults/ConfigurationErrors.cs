using Microsoft.Extensions.Options;

namespace Distributed.ServiceDefaults;

/// <summary>Turns invalid configuration into a short message and an exit code instead of a stack trace.</summary>
public static class ConfigurationErrors
{
    /// <summary>Exit code of a process stopped by invalid configuration (EX_CONFIG).</summary>
    public const int ExitCode = 78;

    /// <summary>Runs <paramref name="host"/>; reports <see cref="OptionsValidationException"/> as a list of problems.</summary>
    public static int Run(Action host)
    {
        ArgumentNullException.ThrowIfNull(host);
        try
        {
            host();
            return 0;
        }
        catch (OptionsValidationException ex)
        {
            Console.Error.WriteLine("Invalid configuration; the process did not start:");
            foreach (var failure in ex.Failures)
            {
                Console.Error.WriteLine($"  - {failure}");
            }

            return ExitCode;
        }
    }
}
