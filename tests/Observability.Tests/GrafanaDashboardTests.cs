using System.Net;
using System.Text.Json;
using Distributed.Topology;
using YamlDotNet.RepresentationModel;

namespace Distributed.Observability.Tests;

/// <summary>
/// The Grafana dashboard (deploy/grafana/dashboards/distributed.json) against a real gateway and silo: every metric
/// name it reads is one they export on /metrics, and every query runs in a real Prometheus scraping them with the
/// shipped scrape config's job names.
/// </summary>
[Trait("Category", "Observability")]
[Collection(ObservabilityTopology.Name)]
public sealed class GrafanaDashboardTests(ObservabilityTopologyFixture fixture, ITestOutputHelper output) : ProcessTest(output)
{
    private static readonly string Deploy = Path.Combine(RepoPaths.Root, "deploy");
    private static readonly SemaphoreSlim SeriesGate = new(1, 1);
    private static bool _seriesMade;

    /// <summary>Every query of the dashboard: panel targets and template variables.</summary>
    private static List<string> Queries()
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(Deploy, "grafana", "dashboards", "distributed.json")));
        var root = dashboard.RootElement;
        var targets = root.GetProperty("panels").EnumerateArray()
            .Where(p => p.TryGetProperty("targets", out _))
            .SelectMany(p => p.GetProperty("targets").EnumerateArray())
            .Select(t => t.GetProperty("expr").GetString()!);
        var variables = root.GetProperty("templating").GetProperty("list").EnumerateArray()
            .Where(v => v.GetProperty("type").GetString() == "query") // the data source variable queries no metric
            .Select(v => v.GetProperty("query").GetProperty("query").GetString()!);
        return [.. targets, .. variables];
    }

    [Fact]
    public async Task Dashboard_EveryMetricName_IsExportedByARunningGatewayOrSilo()
    {
        var names = Queries().SelectMany(PromQl.MetricNames).ToHashSet(StringComparer.Ordinal);
        Assert.True(names.Count >= 20, $"The dashboard reads only {names.Count} metrics; the extraction lost some.");
        await MakeEverySeriesAsync();

        // The sample names as Prometheus stores them (histograms as _bucket, _sum and _count; counters with _total;
        // units as suffixes), from the gateway's management listener and the silo's HTTP port.
        var gateway = SampleNames(await fixture.Http.GetStringAsync(new Uri(fixture.Gateway.AdminAddress, "/metrics")));
        var silo = SampleNames(await fixture.Http.GetStringAsync(new Uri($"http://127.0.0.1:{fixture.Topology.Silos[0].HttpPort}/metrics")));
        var missing = names.Where(n => !gateway.Contains(n) && !silo.Contains(n)).Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, $"The dashboard queries metrics no gateway or silo exports: {string.Join(", ", missing)}");
    }

    [Fact]
    public async Task Dashboard_EveryQuery_ReturnsSeriesInPrometheusScrapingAGatewayAndASilo()
    {
        var executable = new[] { "/usr/bin/prometheus", "/usr/local/bin/prometheus" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("prometheus is not installed; ./test.sh installs it with apt-get install -y prometheus.");
        await MakeEverySeriesAsync();

        // The shipped scrape config, pointed at this topology and scraping every second.
        var yaml = new YamlStream();
        using (var reader = File.OpenText(Path.Combine(Deploy, "prometheus", "prometheus.yml")))
        {
            yaml.Load(reader);
        }

        var config = (YamlMappingNode)yaml.Documents[0].RootNode;
        ((YamlMappingNode)config["global"]).Children[new YamlScalarNode("scrape_interval")] = new YamlScalarNode("1s");
        var jobs = new Dictionary<string, string>
        {
            ["distributed-gateways"] = $"127.0.0.1:{fixture.Gateway.AdminPort}",
            ["distributed-silos"] = $"127.0.0.1:{fixture.Topology.Silos[0].HttpPort}",
        };
        foreach (var job in ((YamlSequenceNode)config["scrape_configs"]).Children.Cast<YamlMappingNode>())
        {
            var target = jobs[((YamlScalarNode)job["job_name"]).Value!];
            job.Children[new YamlScalarNode("static_configs")] = new YamlSequenceNode(new YamlMappingNode(new YamlScalarNode("targets"), new YamlSequenceNode(new YamlScalarNode(target))));
        }

        var dir = Directory.CreateTempSubdirectory("distributed-dashboard-").FullName;
        var port = FreePorts.Next(1)[0];
        await using (var writer = File.CreateText(Path.Combine(dir, "prometheus.yml")))
        {
            yaml.Save(writer, assignAnchors: false);
        }

        await using var prometheus = ManagedProcess.Start(
            "prometheus",
            executable,
            [$"--config.file={Path.Combine(dir, "prometheus.yml")}", $"--storage.tsdb.path={Path.Combine(dir, "data")}", $"--web.listen-address=127.0.0.1:{port}"]);
        try
        {
            // Prometheus answers 503 until its storage has started, a few milliseconds after it listens (seen in CI).
            await Wait.ForHttpOkAsync(fixture.Http, new Uri($"http://127.0.0.1:{port}/-/ready"), TimeSpan.FromSeconds(60), prometheus);

            // The variables as Grafana would set them: every pool, and the jobs found from gateway- and silo-only metrics.
            var variables = new Dictionary<string, string>
            {
                ["pool"] = ".*",
                ["gateway_job"] = "(distributed-gateways)",
                ["silo_job"] = "(distributed-silos)",
                ["__rate_interval"] = "1m",
            };
            foreach (var query in Queries())
            {
                var runnable = PromQl.Runnable(query, variables);
                var answer = "";
                HttpStatusCode? rejected = null;
                // Rates need two scrapes; keep the gateway busy so the histograms of the last minute have requests.
                await Wait.UntilAsync(
                    async () =>
                    {
                        await fixture.SendAsync($"dashboard-{Guid.NewGuid():N}");
                        using var response = await fixture.Http.GetAsync(new Uri($"http://127.0.0.1:{port}/api/v1/query?query={Uri.EscapeDataString(runnable)}"));
                        answer = await response.Content.ReadAsStringAsync();
                        if (response.StatusCode != HttpStatusCode.OK)
                        {
                            rejected = response.StatusCode; // a query Prometheus cannot run never will
                            return true;
                        }

                        using var document = JsonDocument.Parse(answer);
                        return document.RootElement.GetProperty("data").GetProperty("result").GetArrayLength() > 0;
                    },
                    TimeSpan.FromSeconds(60),
                    $"a series from {runnable}",
                    () => answer + "\n" + prometheus.RecentOutput());
                Assert.True(rejected is null, $"Prometheus answered {rejected} to {runnable}: {answer}");
            }
        }
        finally
        {
            await prometheus.StopAsync(TimeSpan.FromSeconds(5));
            Directory.Delete(dir, recursive: true);
        }
    }

    private static HashSet<string> SampleNames(string exposition) =>
        exposition.Split('\n')
            .Where(line => line.Length > 0 && line[0] != '#')
            .Select(line => line[..line.IndexOfAny(['{', ' '])])
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// Requests for new sessions (grain calls, storage writes, forwarding latency) and one retry, which only a backend
    /// refusing connections brings about: added for the purpose, then removed. Once per test run.
    /// </summary>
    private async Task MakeEverySeriesAsync()
    {
        await SeriesGate.WaitAsync();
        try
        {
            if (_seriesMade)
            {
                return;
            }

            var refused = FreePorts.Next(1)[0]; // nothing listens there
            await fixture.AdminAsync(HttpMethod.Post, "/admin/pools/web/backends", new { id = "refusing", address = $"http://127.0.0.1:{refused}/" });
            try
            {
                await Wait.UntilAsync(
                    async () =>
                    {
                        // Every request succeeds: an idempotent one that met the refusing backend is retried elsewhere.
                        await fixture.SendAsync($"dashboard-{Guid.NewGuid():N}");
                        var metrics = await fixture.Http.GetStringAsync(new Uri(fixture.Gateway.AdminAddress, "/metrics"));
                        return metrics.Contains("distributed_gateway_retries_total{", StringComparison.Ordinal);
                    },
                    TimeSpan.FromSeconds(60),
                    "a retry away from the refusing backend");
            }
            finally
            {
                await fixture.AdminAsync(HttpMethod.Delete, "/admin/pools/web/backends/refusing");
            }

            _seriesMade = true;
        }
        finally
        {
            SeriesGate.Release();
        }
    }
}
