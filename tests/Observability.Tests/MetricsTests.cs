using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Distributed.Topology;

namespace Distributed.Observability.Tests;

[Trait("Category", "Observability")]
[Collection(ObservabilityTopology.Name)]
public sealed partial class MetricsTests(ObservabilityTopologyFixture fixture, ITestOutputHelper output) : ProcessTest(output)
{
    [GeneratedRegex(@"^distributed_gateway_requests_total\{(?<labels>[^}]*)\} (?<value>[0-9.e+]+)", RegexOptions.Multiline)]
    private static partial Regex RequestsLine();

    [GeneratedRegex(@"(?<name>\w+)=""(?<value>[^""]*)""")]
    private static partial Regex Label();

    private async Task<Dictionary<string, long>> ScrapeRequestsAsync()
    {
        var text = await fixture.Http.GetStringAsync(new Uri(fixture.Gateway.AdminAddress, "/metrics"));
        var counts = new Dictionary<string, long>();
        foreach (Match line in RequestsLine().Matches(text))
        {
            var labels = Label().Matches(line.Groups["labels"].Value).ToDictionary(m => m.Groups["name"].Value, m => m.Groups["value"].Value);
            if (labels.GetValueOrDefault("pool") == "web")
            {
                var backend = labels["backend"];
                counts[backend] = counts.GetValueOrDefault(backend) + (long)double.Parse(line.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return counts;
    }

    [Fact]
    public async Task MetricsEndpoint_PerBackendRequestCounters_MatchTheRequestsSent()
    {
        var before = await ScrapeRequestsAsync();
        var sent = new Dictionary<string, long>();
        for (var i = 0; i < 90; i++)
        {
            var backend = await fixture.SendAsync($"metrics-{Guid.NewGuid():N}");
            sent[backend] = sent.GetValueOrDefault(backend) + 1;
        }

        Assert.True(sent.Count >= 2, "New sessions should spread over the backends.");
        Dictionary<string, long> delta = [];
        await Wait.UntilAsync(
            async () =>
            {
                var after = await ScrapeRequestsAsync();
                delta = after.ToDictionary(a => a.Key, a => a.Value - before.GetValueOrDefault(a.Key));
                return sent.All(s => delta.GetValueOrDefault(s.Key) == s.Value);
            },
            TimeSpan.FromSeconds(10),
            "distributed_gateway_requests_total to count every request",
            () => $"sent {string.Join(", ", sent)}; counted {string.Join(", ", delta)}");
        Assert.Equal(sent.Values.Sum(), delta.Values.Sum());
    }

    [Fact]
    public async Task MetricsEndpoint_AfterProxiedRequests_HasBothRequestDurationHistogramsAndNoDroppedPerRequestInstrument()
    {
        for (var i = 0; i < 5; i++)
        {
            await fixture.SendAsync($"instruments-{Guid.NewGuid():N}");
        }

        var text = await fixture.Http.GetStringAsync(new Uri(fixture.Gateway.AdminAddress, "/metrics"));
        // What the dashboards and the status page's latency chart read stays.
        Assert.Contains("\nhttp_server_request_duration_seconds_bucket{", text, StringComparison.Ordinal);
        Assert.Contains("\nhttp_client_request_duration_seconds_bucket{", text, StringComparison.Ordinal);
        foreach (var instrument in Distributed.ServiceDefaults.HostingExtensions.PerRequestInstrumentsDropped)
        {
            var name = instrument.Replace('.', '_');
            Assert.DoesNotContain(text.Split('\n'), line => line.StartsWith(name, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Prometheus_ScrapingTheGateway_ItsQueryReturnsTheRequestCounter()
    {
        var executable = new[] { "/usr/bin/prometheus", "/usr/local/bin/prometheus" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("prometheus is not installed; ./test.sh installs it with apt-get install -y prometheus.");
        var dir = Directory.CreateTempSubdirectory("distributed-prometheus-").FullName;
        var port = FreePorts.Next(1)[0];
        await File.WriteAllTextAsync(Path.Combine(dir, "prometheus.yml"), $"""
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: distributed-gateway
                static_configs:
                  - targets: ["127.0.0.1:{fixture.Gateway.AdminPort}"]
            """);
        await using var prometheus = ManagedProcess.Start(
            "prometheus",
            executable,
            [$"--config.file={Path.Combine(dir, "prometheus.yml")}", $"--storage.tsdb.path={Path.Combine(dir, "data")}", $"--web.listen-address=127.0.0.1:{port}"]);
        try
        {
            await fixture.SendAsync($"prom-{Guid.NewGuid():N}");
            var query = new Uri($"http://127.0.0.1:{port}/api/v1/query?query=sum(distributed_gateway_requests_total)");
            var clock = Stopwatch.StartNew();
            double total = 0;
            await Wait.UntilAsync(
                async () =>
                {
                    using var document = JsonDocument.Parse(await fixture.Http.GetStringAsync(query));
                    var result = document.RootElement.GetProperty("data").GetProperty("result");
                    if (result.GetArrayLength() == 0)
                    {
                        return false;
                    }

                    total = double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
                    return total >= 1;
                },
                TimeSpan.FromSeconds(60),
                "Prometheus to scrape distributed_gateway_requests_total",
                prometheus.RecentOutput);
            Assert.True(total >= 1);
        }
        finally
        {
            await prometheus.StopAsync(TimeSpan.FromSeconds(5));
            Directory.Delete(dir, recursive: true);
        }
    }
}
