namespace Distributed.ServiceDefaults;

/// <summary>
/// The <c>Telemetry</c> configuration section, shared by silos and gateways. Read before the host is built (it decides
/// which OpenTelemetry pipelines exist) and registered as <see cref="Microsoft.Extensions.Options.IOptions{TOptions}"/>.
/// A value that is not a boolean stops start-up naming the key; no other value is wrong, so there is no validator.
/// </summary>
public sealed class TelemetryOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Telemetry";

    /// <summary>
    /// Whether spans are recorded. <value>Default: on when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set, off otherwise;
    /// set it to <c>true</c> when an exporter is added in code.</value>
    /// </summary>
    public bool? Tracing { get; set; }
}
