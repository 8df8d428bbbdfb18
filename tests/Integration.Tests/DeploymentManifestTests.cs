using System.Text.Json;
using System.Text.RegularExpressions;
using Distributed.Topology;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Distributed.Integration.Tests;

/// <summary>
/// A schema check of the deployment files without a Docker engine or a Kubernetes cluster: they parse, and what they
/// reference (images, build files, services, config maps, secrets, ports, probes) exists and fits together.
/// </summary>
[Trait("Category", "Unit")]
public sealed partial class DeploymentManifestTests
{
    private static readonly string Deploy = Path.Combine(RepoPaths.Root, "deploy");

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex ConfigKey();

    private static List<YamlMappingNode> Documents(string path)
    {
        var stream = new YamlStream();
        using (var reader = File.OpenText(path))
        {
            // Compose files share settings through YAML merge keys (<<: *anchor).
            stream.Load(new MergingParser(new Parser(reader)));
        }

        return [.. stream.Documents.Select(d => Assert.IsType<YamlMappingNode>(d.RootNode))];
    }

    private static YamlNode? Get(YamlNode node, params string[] path)
    {
        foreach (var key in path)
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out var next))
            {
                return null;
            }

            node = next;
        }

        return node;
    }

    private static string? Scalar(YamlNode node, params string[] path) => (Get(node, path) as YamlScalarNode)?.Value;

    [Theory]
    [InlineData("Silo", "Distributed.Silo", "src/Silo")]
    [InlineData("Gateway", "Distributed.Gateway", "src/Gateway")]
    [InlineData("EchoBackend", "Distributed.EchoBackend", "samples/EchoBackend")]
    public void Dockerfile_IsMultiStageNonRootAndRunsTheProject(string name, string assembly, string project)
    {
        var text = File.ReadAllText(Path.Combine(Deploy, "docker", $"{name}.Dockerfile"));
        Assert.True(Regex.Count(text, @"^FROM ", RegexOptions.Multiline) >= 2, "multi-stage");
        Assert.Matches(@"(?m)^USER \$APP_UID$", text);
        Assert.Contains($"{project}/{assembly}.csproj", text, StringComparison.Ordinal);
        Assert.Contains($"\"{assembly}.dll\"", text, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(RepoPaths.Root, project, $"{assembly}.csproj")));
    }

    [Fact]
    public void Compose_ServicesBuildFromExistingFilesAndReferenceEachOther()
    {
        var compose = Documents(Path.Combine(Deploy, "compose", "docker-compose.yml")).Single();
        var services = Assert.IsType<YamlMappingNode>(Get(compose, "services"));
        var names = services.Children.Keys.Cast<YamlScalarNode>().Select(k => k.Value!).ToHashSet();
        Assert.Superset(new HashSet<string> { "redis", "silo1", "silo2", "silo3", "gateway1", "gateway2", "echo1", "dashboard", "prometheus", "grafana" }, names);

        foreach (var (key, value) in services.Children)
        {
            var service = ((YamlScalarNode)key).Value!;
            Assert.True(Get(value, "image") is not null || Get(value, "build") is not null, $"{service} has neither image nor build");
            if (Scalar(value, "build", "dockerfile") is { } dockerfile)
            {
                Assert.True(File.Exists(Path.Combine(RepoPaths.Root, dockerfile)), $"{service}: {dockerfile} is missing");
            }

            foreach (var dependency in (Get(value, "depends_on") as YamlSequenceNode)?.Children.Cast<YamlScalarNode>() ?? [])
            {
                Assert.Contains(dependency.Value!, names);
            }

            var environment = Get(value, "environment") as YamlMappingNode;
            foreach (var (envKey, envValue) in environment?.Children ?? Enumerable.Empty<KeyValuePair<YamlNode, YamlNode>>())
            {
                var name = ((YamlScalarNode)envKey).Value!;
                Assert.Matches(ConfigKey(), name);
                if (name.EndsWith("__Address", StringComparison.Ordinal))
                {
                    Assert.Contains(new Uri(((YamlScalarNode)envValue).Value!).Host, names);
                }
            }

            if (environment is not null && Scalar(environment, "Balancer__Admin__Url") is { } adminUrl && !adminUrl.Contains("127.0.0.1", StringComparison.Ordinal))
            {
                Assert.NotNull(Scalar(environment, "Balancer__Admin__ApiKey"));
            }
        }
    }

    [Fact]
    public void Compose_PrometheusScrapesEveryGatewayAndSiloAndGrafanaGetsTheDashboard()
    {
        var composeDir = Path.Combine(Deploy, "compose");
        var compose = Documents(Path.Combine(composeDir, "docker-compose.yml")).Single();
        var services = ((YamlMappingNode)Get(compose, "services")!).Children.ToDictionary(s => ((YamlScalarNode)s.Key).Value!, s => s.Value);

        // Every file the compose file mounts exists; container path by host path, to follow the wiring below.
        var mounts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, service) in services)
        {
            foreach (var volume in (Get(service, "volumes") as YamlSequenceNode)?.Children.Cast<YamlScalarNode>() ?? [])
            {
                var parts = volume.Value!.Split(':');
                if (parts[0].StartsWith('.'))
                {
                    var source = Path.GetFullPath(Path.Combine(composeDir, parts[0]));
                    Assert.True(File.Exists(source) || Directory.Exists(source), $"{name} mounts {parts[0]}, which does not exist");
                    mounts[Path.GetRelativePath(Deploy, source)] = parts[1];
                }
            }
        }

        // Prometheus scrapes each gateway's management port and each silo's HTTP port, where /metrics is served.
        static int Port(string url) => new Uri(url).Port;
        var prometheus = Documents(Path.Combine(Deploy, "prometheus", "prometheus.yml")).Single();
        Assert.Equal("/etc/prometheus/prometheus.yml", mounts[Path.Combine("prometheus", "prometheus.yml")]);
        var targets = ((YamlSequenceNode)Get(prometheus, "scrape_configs")!).Children
            .SelectMany(job => ((YamlSequenceNode)Get(job, "static_configs")!).Children)
            .SelectMany(config => ((YamlSequenceNode)Get(config, "targets")!).Children.Cast<YamlScalarNode>().Select(t => t.Value!))
            .ToHashSet();
        foreach (var (name, service) in services.Where(s => s.Key.StartsWith("gateway", StringComparison.Ordinal) || s.Key.StartsWith("silo", StringComparison.Ordinal)))
        {
            var environment = (YamlMappingNode)Get(service, "environment")!;
            var port = Port(Scalar(environment, name.StartsWith("gateway", StringComparison.Ordinal) ? "Balancer__Admin__Url" : "Urls")!);
            Assert.Contains($"{name}:{port}", targets);
        }

        Assert.All(targets, t => Assert.Contains(t.Split(':')[0], services.Keys));

        // Grafana: the default data source is the compose Prometheus, which the dashboard's data source variable picks;
        // the dashboard folder is the one its provider loads.
        var datasource = ((YamlSequenceNode)Get(Documents(Path.Combine(Deploy, "grafana", "provisioning", "datasources", "prometheus.yml")).Single(), "datasources")!).Children.Single();
        Assert.Equal("prometheus", new Uri(Scalar(datasource, "url")!).Host);
        Assert.Equal(("prometheus", "true"), (Scalar(datasource, "type"), Scalar(datasource, "isDefault")));
        Assert.Contains("prometheus", services.Keys);
        Assert.Equal("/etc/grafana/provisioning", mounts[Path.Combine("grafana", "provisioning")]);
        var provider = ((YamlSequenceNode)Get(Documents(Path.Combine(Deploy, "grafana", "provisioning", "dashboards", "distributed.yml")).Single(), "providers")!).Children.Single();
        Assert.Equal(mounts[Path.Combine("grafana", "dashboards")], Scalar(provider, "options", "path"));

        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(Deploy, "grafana", "dashboards", "distributed.json")));
        var variables = dashboard.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray().ToList();
        Assert.Contains(variables, v => v.GetProperty("name").GetString() == "datasource" && v.GetProperty("type").GetString() == "datasource" && v.GetProperty("query").GetString() == "prometheus");
        var uids = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.TryGetProperty("targets", out var targets) ? [p, .. targets.EnumerateArray()] : new[] { p })
            .Concat(variables.Where(v => v.GetProperty("type").GetString() == "query"))
            .Where(p => p.TryGetProperty("datasource", out _))
            .Select(p => p.GetProperty("datasource").GetProperty("uid").GetString())
            .ToHashSet();
        Assert.Equal(["${datasource}"], uids);
    }

    [Fact]
    public void Kubernetes_ManifestsAreCompleteAndConsistent()
    {
        var k8s = Path.Combine(Deploy, "k8s");
        var kustomization = Documents(Path.Combine(k8s, "kustomization.yaml")).Single();
        var files = ((YamlSequenceNode)Get(kustomization, "resources")!).Children.Cast<YamlScalarNode>().Select(s => s.Value!).ToList();
        var documents = files.SelectMany(f => Documents(Path.Combine(k8s, f))).ToList();
        Assert.All(documents, d =>
        {
            Assert.False(string.IsNullOrEmpty(Scalar(d, "apiVersion")));
            Assert.False(string.IsNullOrEmpty(Scalar(d, "kind")));
            Assert.False(string.IsNullOrEmpty(Scalar(d, "metadata", "name")));
        });

        string[] Named(string kind) => [.. documents.Where(d => Scalar(d, "kind") == kind).Select(d => Scalar(d, "metadata", "name")!)];
        var workloads = documents.Where(d => Scalar(d, "kind") is "Deployment" or "StatefulSet").ToList();
        Assert.Equal(new[] { "gateway", "redis", "silo" }, workloads.Select(w => Scalar(w, "metadata", "name")).Order());

        foreach (var workload in workloads)
        {
            var name = Scalar(workload, "metadata", "name");
            var selector = (YamlMappingNode)Get(workload, "spec", "selector", "matchLabels")!;
            var labels = (YamlMappingNode)Get(workload, "spec", "template", "metadata", "labels")!;
            Assert.All(selector.Children, l => Assert.Equal(l.Value.ToString(), labels.Children[l.Key].ToString()));

            foreach (var container in ((YamlSequenceNode)Get(workload, "spec", "template", "spec", "containers")!).Children)
            {
                Assert.False(string.IsNullOrEmpty(Scalar(container, "image")), $"{name}: container without image");
                var ports = ((YamlSequenceNode)Get(container, "ports")!).Children.Select(p => Scalar(p, "name")).ToHashSet();
                foreach (var probe in new[] { "readinessProbe", "livenessProbe" })
                {
                    if (Scalar(container, probe, "httpGet", "port") is { } port)
                    {
                        Assert.Contains(port, ports);
                        Assert.Equal(probe == "readinessProbe" ? "/readyz" : "/healthz", Scalar(container, probe, "httpGet", "path"));
                    }
                    else if (name != "redis")
                    {
                        Assert.Fail($"{name}: no {probe}");
                    }
                }

                foreach (var env in (Get(container, "env") as YamlSequenceNode)?.Children ?? [])
                {
                    if (Scalar(env, "valueFrom", "secretKeyRef", "name") is { } secret)
                    {
                        Assert.Contains(secret, Named("Secret"));
                    }
                }

                foreach (var source in (Get(container, "envFrom") as YamlSequenceNode)?.Children ?? [])
                {
                    Assert.Contains(Scalar(source, "configMapRef", "name")!, Named("ConfigMap"));
                }
            }
        }

        // The gateway binds its management listener beyond loopback in a pod, so it must get an API key.
        var gatewayEnv = ((YamlSequenceNode)Get(workloads.Single(w => Scalar(w, "metadata", "name") == "gateway"), "spec", "template", "spec", "containers")!).Children[0];
        Assert.Contains(((YamlSequenceNode)Get(gatewayEnv, "env")!).Children, e => Scalar(e, "name") == "Balancer__Admin__ApiKey");

        foreach (var service in documents.Where(d => Scalar(d, "kind") == "Service"))
        {
            var selector = (YamlMappingNode)Get(service, "spec", "selector")!;
            Assert.Contains(workloads, w => selector.Children.All(l => ((YamlMappingNode)Get(w, "spec", "template", "metadata", "labels")!).Children.TryGetValue(l.Key, out var v) && v.ToString() == l.Value.ToString()));
        }

        var hpa = documents.Single(d => Scalar(d, "kind") == "HorizontalPodAutoscaler");
        Assert.Contains(Scalar(hpa, "spec", "scaleTargetRef", "name")!, Named("Deployment"));

        var config = documents.Single(d => Scalar(d, "kind") == "ConfigMap");
        Assert.All(((YamlMappingNode)Get(config, "data")!).Children.Keys, k => Assert.Matches(ConfigKey(), k.ToString()));
    }
}
