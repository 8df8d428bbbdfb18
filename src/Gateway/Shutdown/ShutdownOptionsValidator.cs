using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Shutdown;

/// <summary>Checks <see cref="ShutdownOptions"/> against the host's shutdown timeout at start-up.</summary>
internal sealed class ShutdownOptionsValidator(IOptions<HostOptions> host) : IValidateOptions<ShutdownOptions>
{
    private const string Key = $"{ShutdownOptions.SectionName}:{nameof(ShutdownOptions.DrainPeriod)}";

    public ValidateOptionsResult Validate(string? name, ShutdownOptions options)
    {
        var timeout = host.Value.ShutdownTimeout;
        if (options.DrainPeriod < TimeSpan.Zero)
        {
            return ValidateOptionsResult.Fail($"{Key} must not be negative (was {options.DrainPeriod}).");
        }

        // The drain runs on the host's shutdown clock; what is left of it is the in-flight requests' time to finish.
        return timeout != Timeout.InfiniteTimeSpan && options.DrainPeriod >= timeout
            ? ValidateOptionsResult.Fail($"{Key} ({options.DrainPeriod}) must be shorter than the host's shutdown timeout (shutdownTimeoutSeconds, {timeout}), which also bounds the requests still in flight after the drain.")
            : ValidateOptionsResult.Success;
    }
}
