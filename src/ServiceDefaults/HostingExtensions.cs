using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Distributed.ServiceDefaults;

/// <summary>Defaults every Distributed host applies, in the spirit of eShop's ServiceDefaults.</summary>
public static class HostingExtensions
{
    private static readonly JsonSerializerOptions ReadinessJson = new(JsonSerializerDefaults.Web);

    /// <summary>Configuration key that turns span recording on or off (<see cref="TelemetryOptions.Tracing"/>).</summary>
    public const string TracingKey = $"{TelemetryOptions.SectionName}:{nameof(TelemetryOptions.Tracing)}";

    /// <summary>
    /// ASP.NET Core and HttpClient instruments updated on every proxied request (some twice) whose figures the
    /// balancer's own metrics already give (<c>distributed.backend.inflight</c>, requests per backend, the request
    /// count of <c>http.server.request.duration</c> per route) or that only matter when diagnosing HttpClient's
    /// connection pool or Kestrel's buffer pool (<c>aspnetcore.memory_pool.rented</c> and <c>.pooled</c> change with
    /// every buffer rented and returned, several per request; the pool's size is <c>allocated</c> minus <c>evicted</c>,
    /// which stay). A dropped instrument is never enabled, so it costs nothing; together they took about a tenth of a
    /// gateway's CPU per request (docs/benchmarks.md). The request-duration histograms of both sides
    /// (<c>http.server.request.duration</c>, <c>http.client.request.duration</c>) stay.
    /// </summary>
    public static readonly string[] PerRequestInstrumentsDropped =
    [
        "http.server.active_requests",
        "http.client.active_requests",
        "http.client.open_connections",
        "http.client.request.time_in_queue",
        "aspnetcore.routing.match_attempts",
        "aspnetcore.memory_pool.rented",
        "aspnetcore.memory_pool.pooled",
    ];

    /// <summary>Orleans' activity sources: grain calls as client spans in the caller and server spans in the silo.</summary>
    public static readonly string[] OrleansActivitySources = ["Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application"];

    /// <summary>
    /// Health checks and OpenTelemetry: ASP.NET Core, HttpClient (which covers YARP's forwarding) and Orleans spans
    /// plus the host's own <c>ActivitySource</c> and <c>Meter</c> named <paramref name="serviceName"/>; metrics of the
    /// host, Orleans and ASP.NET Core. Exported with OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set, and metrics
    /// always to a Prometheus scrape endpoint the host maps (<see cref="MapPrometheusEndpoint"/>). Spans are recorded
    /// only when they have somewhere to go (see <see cref="TracingKey"/>); sampling follows OpenTelemetry's own
    /// <c>OTEL_TRACES_SAMPLER</c> and <c>OTEL_TRACES_SAMPLER_ARG</c>.
    /// </summary>
    public static TBuilder AddDistributedDefaults<TBuilder>(this TBuilder builder, string serviceName)
        where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddHealthChecks();
        var settings = ValidatedOptions.Load<TelemetryOptions>(builder.Configuration, TelemetryOptions.SectionName, validator: null);
        builder.Services.AddOptions<TelemetryOptions>().Bind(builder.Configuration.GetSection(TelemetryOptions.SectionName));
        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName, serviceInstanceId: $"{Environment.MachineName}-{Environment.ProcessId}"));

        // Recording the spans of a proxied request cost a gateway about a tenth of its CPU per request (docs/benchmarks.md);
        // without an exporter that is pure loss, so spans are only made when something collects them.
        if (settings.Tracing ?? otlp)
        {
            telemetry.WithTracing(tracing =>
            {
                tracing.AddSource(serviceName).AddSource(OrleansActivitySources)
                    .AddAspNetCoreInstrumentation(o => o.Filter = context => !IsOperationalPath(context.Request.Path))
                    .AddHttpClientInstrumentation();
                if (otlp)
                {
                    tracing.AddOtlpExporter();
                }
            });
        }

        telemetry.WithMetrics(metrics =>
            {
                // System.Runtime: the runtime's own GC heap, committed memory and working set (what a session costs).
                metrics.AddMeter(serviceName, "Microsoft.Orleans", "System.Runtime");
                foreach (var instrument in PerRequestInstrumentsDropped)
                {
                    metrics.AddView(instrument, MetricStreamConfiguration.Drop);
                }

                metrics
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddPrometheusExporter();
                if (otlp)
                {
                    metrics.AddOtlpExporter();
                }
            });
        return builder;
    }

    /// <summary>
    /// <c>/healthz</c> answers 200 while the process runs; <c>/readyz</c> runs the checks tagged <c>ready</c> and answers
    /// JSON: the overall status, and each check's status, description and data (a gateway lists its pools there).
    /// Returns the group so a host can confine them to a listener (the gateway's management listener).
    /// </summary>
    public static RouteGroupBuilder MapDefaultEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var group = endpoints.MapGroup("");
        group.MapHealthChecks("/healthz", new() { Predicate = _ => false });
        group.MapHealthChecks("/readyz", new() { Predicate = check => check.Tags.Contains("ready"), ResponseWriter = WriteReadinessAsync });
        return group;
    }

    /// <summary>The Prometheus scrape endpoint, <c>/metrics</c>.</summary>
    public static IEndpointConventionBuilder MapPrometheusEndpoint(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapPrometheusScrapingEndpoint("/metrics");

    private static Task WriteReadinessAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(
                e => e.Key,
                e => new { status = e.Value.Status.ToString(), description = e.Value.Description, data = e.Value.Data.ToDictionary(d => d.Key, d => d.Value.ToString()) }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, ReadinessJson), context.RequestAborted);
    }

    // Probes and scrapes would otherwise be most of the traces.
    private static bool IsOperationalPath(PathString path) =>
        path.StartsWithSegments("/healthz") || path.StartsWithSegments("/readyz") || path.StartsWithSegments("/metrics") || path.StartsWithSegments("/ui");
}
