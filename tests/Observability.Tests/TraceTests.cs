using System.Diagnostics;
using Distributed.Gateway;
using Distributed.Gateway.Cluster;
using Distributed.Gateway.Management;
using Distributed.Gateway.Telemetry;
using Distributed.ServiceDefaults;
using Distributed.Silo;
using Distributed.Topology;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Trace;

namespace Distributed.Observability.Tests;

/// <summary>
/// A silo and a gateway hosted in this process, each with its real start-up code plus OpenTelemetry's in-memory
/// exporter; the backend is a real echo process, which reports the <c>traceparent</c> it received.
/// </summary>
[Trait("Category", "Observability")]
public sealed class TraceTests(ITestOutputHelper output) : ProcessTest(output), IAsyncLifetime
{
    private readonly List<Activity> _gatewaySpans = [];
    private readonly List<Activity> _siloSpans = [];
    private ManagedProcess? _backend;
    private WebApplication? _silo;
    private WebApplication? _gateway;
    private int _gatewayPort;

    public async Task InitializeAsync()
    {
        var ports = FreePorts.Next(6);
        _backend = await EchoBackendProcess.StartEchoAsync("b1", ports[0]);
        var cluster = new Dictionary<string, string?>
        {
            ["Orleans:Clustering"] = "Localhost",
            ["Orleans:SiloPort"] = ports[1].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Orleans:GatewayPort"] = ports[2].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Orleans:ClusterId"] = $"trace-{Guid.NewGuid():N}",
        };

        _silo = Build(SiloHostingExtensions.ServiceName, ports[3], cluster, _siloSpans, builder => builder.AddDistributedSilo());
        _silo.MapDefaultEndpoints();
        await _silo.StartAsync();

        _gatewayPort = ports[4];
        var gatewaySettings = new Dictionary<string, string?>(cluster)
        {
            ["Balancer:Admin:Url"] = $"http://127.0.0.1:{ports[5]}",
            ["Balancer:Pools:web:SessionKey"] = "Header:X-Session-Id",
            ["Balancer:Pools:web:Backends:b1:Address"] = $"http://127.0.0.1:{ports[0]}",
            ["Balancer:Pools:web:HealthCheck:Enabled"] = "false",
        };
        _gateway = Build(GatewayTelemetry.ServiceName, _gatewayPort, gatewaySettings, _gatewaySpans, builder =>
        {
            builder.AddManagementListener();
            builder.AddClusterClient();
            builder.Services.AddSessionBalancing(builder.Configuration);
        });
        _gateway.MapManagementEndpoints();
        _gateway.MapBalancedProxy();
        await _gateway.StartAsync();
        using var http = new HttpClient();
        await Wait.ForHttpOkAsync(http, new Uri($"http://127.0.0.1:{ports[5]}/readyz"), TimeSpan.FromSeconds(60));
    }

    // The host's real registration, in an empty content root so no appsettings.json of the build output applies.
    private static WebApplication Build(string service, int port, Dictionary<string, string?> settings, List<Activity> spans, Action<WebApplicationBuilder> configure)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = Directory.CreateTempSubdirectory("distributed-trace-").FullName });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Configuration[HostingExtensions.TracingKey] = "true"; // the in-memory exporter below collects the spans
        builder.Configuration[WebHostDefaultsUrls] = $"http://127.0.0.1:{port}";
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddDistributedDefaults(service);
        builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(spans));
        configure(builder);
        return builder.Build();
    }

    private const string WebHostDefaultsUrls = "urls";

    public async Task DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.StopAsync();
            await _gateway.DisposeAsync();
        }

        if (_silo is not null)
        {
            await _silo.StopAsync();
            await _silo.DisposeAsync();
        }

        if (_backend is not null)
        {
            await _backend.DisposeAsync();
        }
    }

    [Fact]
    public async Task ProxiedRequestOfANewSession_IsOneTraceAcrossGatewayGrainCallInTheSiloAndTheBackend()
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{_gatewayPort}/orders/42");
        request.Headers.Add("X-Session-Id", $"trace-{Guid.NewGuid():N}");
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        var received = response.Headers.GetValues("X-Received-Traceparent").Single();
        var traceId = received.Split('-')[1];

        Activity[] Spans(List<Activity> list)
        {
            lock (list)
            {
                return [.. list.Where(a => a.TraceId.ToHexString() == traceId)];
            }
        }

        // Exporters run as spans end; the server span ends after the response is written.
        await Wait.UntilAsync(
            () => Task.FromResult(Spans(_gatewaySpans).Any(a => a.Kind == ActivityKind.Server && a.Source.Name == "Microsoft.AspNetCore")),
            TimeSpan.FromSeconds(10),
            "the gateway's server span");

        var gateway = Spans(_gatewaySpans);
        var server = gateway.Single(a => a.Kind == ActivityKind.Server && a.Source.Name == "Microsoft.AspNetCore" && a.GetTagItem("url.path") as string == "/orders/42");
        var decision = gateway.Single(a => a.OperationName == "distributed.route");
        Assert.Equal(server.SpanId, decision.ParentSpanId);
        Assert.Equal("new", decision.GetTagItem("distributed.session.outcome"));
        Assert.Equal("b1", decision.GetTagItem("distributed.backend.id"));
        Assert.NotNull(decision.GetTagItem("distributed.snapshot.age_ms"));

        // The grain call: a client span under the decision in the gateway, continued by a server span in the silo.
        var grainClient = gateway.Single(a => a.Kind == ActivityKind.Client && a.Source.Name.StartsWith("Microsoft.Orleans", StringComparison.Ordinal) && a.ParentSpanId == decision.SpanId);
        Assert.Contains("GetOrPin", grainClient.DisplayName, StringComparison.Ordinal);
        await Wait.UntilAsync(
            () => Task.FromResult(Spans(_siloSpans).Any(a => a.Kind == ActivityKind.Server && a.ParentSpanId == grainClient.SpanId)),
            TimeSpan.FromSeconds(10),
            "the silo's span of the grain call");

        // The forwarded call to the backend carries the same trace: its parent is the gateway's outgoing HTTP span.
        var forward = Assert.Single(gateway, a => a.SpanId.ToHexString() == received.Split('-')[2]);
        Assert.Equal(ActivityKind.Client, forward.Kind);
        Assert.Equal(server.TraceId, forward.TraceId);
    }
}
