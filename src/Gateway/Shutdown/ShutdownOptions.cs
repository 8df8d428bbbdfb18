using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Shutdown;

/// <summary>
/// The <c>Balancer:Shutdown</c> section: how a gateway leaves on SIGTERM. In-flight requests after the drain are bounded
/// by the host's own shutdown timeout (<see cref="HostOptions.ShutdownTimeout"/>, configuration key
/// <c>shutdownTimeoutSeconds</c>, default 30 s), which the drain period counts against.
/// </summary>
public sealed class ShutdownOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Balancer:Shutdown";

    /// <summary>
    /// How long the gateway keeps serving after SIGTERM with <c>/readyz</c> answering 503 and every response closing its
    /// connection, so DNS or load-balancer endpoints stop sending it new connections and keep-alive clients move off at a
    /// request boundary. Zero stops at once. <value>Default: 5 s.</value>
    /// </summary>
    public TimeSpan DrainPeriod { get; set; } = TimeSpan.FromSeconds(5);
}

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
