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
        Assert.Superset(new HashSet<string> { "redis", "silo1", "silo2", "silo3", "gateway1", "gateway2", "echo1", "dashboard" }, names);

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
    public void Compose_SilosAndGatewaysGetMoreTimeToStopThanTheirShutdownTimeout()
    {
        var services = (YamlMappingNode)Get(Documents(Path.Combine(Deploy, "compose", "docker-compose.yml")).Single(), "services")!;
        var stoppable = services.Children.Where(s => ((YamlScalarNode)s.Key).Value is { } name && (name.StartsWith("silo", StringComparison.Ordinal) || name.StartsWith("gateway", StringComparison.Ordinal))).ToList();
        Assert.Equal(5, stoppable.Count);
        foreach (var (key, service) in stoppable)
        {
            var grace = Scalar(service, "stop_grace_period") ?? throw new Xunit.Sdk.XunitException($"{key}: no stop_grace_period (compose's default is 10 s, then SIGKILL)");
            var shutdown = ShutdownTimeout(Scalar(service, "environment", "shutdownTimeoutSeconds"));
            Assert.True(ComposeDuration(grace) > shutdown, $"{key}: stop_grace_period {grace} does not outlast the host's shutdown timeout ({shutdown}).");
        }
    }

    [Fact]
    public void Kubernetes_RollingUpdatesDrainGatewaysAndNeverDropCapacity()
    {
        var documents = KubernetesDocuments();
        foreach (var name in new[] { "gateway", "silo" })
        {
            var deployment = documents.Single(d => Scalar(d, "kind") == "Deployment" && Scalar(d, "metadata", "name") == name);
            Assert.Equal("RollingUpdate", Scalar(deployment, "spec", "strategy", "type"));
            Assert.Equal("0", Scalar(deployment, "spec", "strategy", "rollingUpdate", "maxUnavailable"));
            Assert.Equal("1", Scalar(deployment, "spec", "strategy", "rollingUpdate", "maxSurge"));

            // One disruption budget per workload, matching its pods, that lets drains proceed one pod at a time.
            var labels = (YamlMappingNode)Get(deployment, "spec", "template", "metadata", "labels")!;
            var budget = Assert.Single(documents, d => Scalar(d, "kind") == "PodDisruptionBudget" && ((YamlMappingNode)Get(d, "spec", "selector", "matchLabels")!).Children
                .All(l => labels.Children.TryGetValue(l.Key, out var v) && v.ToString() == l.Value.ToString()));
            Assert.Equal("policy/v1", Scalar(budget, "apiVersion"));
            Assert.Equal("1", Scalar(budget, "spec", "maxUnavailable"));

            var pod = Get(deployment, "spec", "template", "spec")!;
            var container = ((YamlSequenceNode)Get(pod, "containers")!).Children[0];
            var env = ((YamlSequenceNode)Get(container, "env")!).Children.ToDictionary(e => Scalar(e, "name")!, e => Scalar(e, "value"));
            var shutdown = ShutdownTimeout(env.GetValueOrDefault("shutdownTimeoutSeconds"));
            var preStop = TimeSpan.FromSeconds(int.Parse(Scalar(container, "lifecycle", "preStop", "sleep", "seconds") ?? "0", System.Globalization.CultureInfo.InvariantCulture));
            var grace = TimeSpan.FromSeconds(int.Parse(Scalar(pod, "terminationGracePeriodSeconds") ?? "30", System.Globalization.CultureInfo.InvariantCulture));

            // The kubelet's SIGKILL comes after the preStop hook and the whole of the host's graceful shutdown.
            Assert.True(grace > preStop + shutdown, $"{name}: terminationGracePeriodSeconds ({grace}) must exceed the preStop sleep ({preStop}) plus the host's shutdown timeout ({shutdown}).");
            if (name == "gateway")
            {
                // The drain (Balancer:Shutdown:DrainPeriod, default 5 s) runs inside the shutdown timeout; the preStop
                // sleep, which lets endpoint removal propagate before SIGTERM, matches it.
                var drain = env.TryGetValue("Balancer__Shutdown__DrainPeriod", out var value) ? TimeSpan.Parse(value!, System.Globalization.CultureInfo.InvariantCulture) : TimeSpan.FromSeconds(5);
                Assert.Equal(drain, preStop);
                Assert.True(drain < shutdown, $"gateway: the drain ({drain}) must leave time in the shutdown timeout ({shutdown}) for requests in flight.");
            }
        }
    }

    // The host's shutdown timeout (configuration key shutdownTimeoutSeconds; .NET's default 30 s).
    private static TimeSpan ShutdownTimeout(string? seconds) =>
        TimeSpan.FromSeconds(seconds is null ? 30 : int.Parse(seconds, System.Globalization.CultureInfo.InvariantCulture));

    // Compose durations as used here: "40s", "1m30s".
    private static TimeSpan ComposeDuration(string value)
    {
        var match = Regex.Match(value, @"^(?:(\d+)m)?(?:(\d+)s)?$");
        Assert.True(match.Success && value.Length > 0, $"unrecognised duration '{value}'");
        return TimeSpan.FromMinutes(match.Groups[1].Success ? int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0)
            + TimeSpan.FromSeconds(match.Groups[2].Success ? int.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) : 0);
    }

    private static List<YamlMappingNode> KubernetesDocuments()
    {
        var k8s = Path.Combine(Deploy, "k8s");
        var kustomization = Documents(Path.Combine(k8s, "kustomization.yaml")).Single();
        var files = ((YamlSequenceNode)Get(kustomization, "resources")!).Children.Cast<YamlScalarNode>().Select(s => s.Value!).ToList();
        return [.. files.SelectMany(f => Documents(Path.Combine(k8s, f)))];
    }

    [Fact]
    public void Kubernetes_ManifestsAreCompleteAndConsistent()
    {
        var documents = KubernetesDocuments();
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
