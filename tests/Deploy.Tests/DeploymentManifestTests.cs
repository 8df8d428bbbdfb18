using System.Text.Json;
using System.Text.RegularExpressions;
using Distributed.Topology;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Distributed.Deploy.Tests;

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

    private static List<YamlMappingNode> KubernetesDocuments()
    {
        var k8s = Path.Combine(Deploy, "k8s");
        var kustomization = Documents(Path.Combine(k8s, "kustomization.yaml")).Single();
        return [.. ((YamlSequenceNode)Get(kustomization, "resources")!).Children.Cast<YamlScalarNode>().SelectMany(f => Documents(Path.Combine(k8s, f.Value!)))];
    }

    private static YamlMappingNode Workload(List<YamlMappingNode> documents, string name) =>
        documents.Single(d => Scalar(d, "kind") is "Deployment" or "StatefulSet" && Scalar(d, "metadata", "name") == name);

    private static IEnumerable<YamlNode> Containers(YamlNode workload) =>
        ((YamlSequenceNode)Get(workload, "spec", "template", "spec", "containers")!).Children;

    private static List<YamlNode> Env(YamlNode container) => [.. (Get(container, "env") as YamlSequenceNode)?.Children ?? []];

    private static bool Matches(YamlNode? selector, YamlNode workload) =>
        selector is YamlMappingNode { Children: var labels } && labels.Count > 0
        && labels.All(l => ((YamlMappingNode)Get(workload, "spec", "template", "metadata", "labels")!).Children.TryGetValue(l.Key, out var v) && v.ToString() == l.Value.ToString());

    // What may reach a workload under its NetworkPolicies: (source workload or "*", container port or "*").
    private static HashSet<(string Source, string Port)> AllowedIngress(List<YamlMappingNode> documents, string target)
    {
        var workloads = documents.Where(d => Scalar(d, "kind") is "Deployment" or "StatefulSet").ToList();
        var workload = Workload(documents, target);
        var namedPorts = Containers(workload).SelectMany(c => ((YamlSequenceNode)Get(c, "ports")!).Children)
            .ToDictionary(p => Scalar(p, "name")!, p => Scalar(p, "containerPort")!);
        var policies = documents.Where(d => Scalar(d, "kind") == "NetworkPolicy" && Matches(Get(d, "spec", "podSelector", "matchLabels"), workload)).ToList();
        Assert.True(policies.Count > 0, $"no NetworkPolicy selects {target}");
        Assert.All(policies, p => Assert.Contains("Ingress", ((YamlSequenceNode)Get(p, "spec", "policyTypes")!).Children.Select(t => t.ToString())));

        var allowed = new HashSet<(string, string)>();
        foreach (var rule in policies.SelectMany(p => (Get(p, "spec", "ingress") as YamlSequenceNode)?.Children ?? []))
        {
            var sources = Get(rule, "from") is YamlSequenceNode from
                ? from.Children.SelectMany(peer =>
                {
                    // Only pod selectors of this namespace are expected; anything wider would open the plane.
                    Assert.Null(Get(peer, "namespaceSelector"));
                    Assert.Null(Get(peer, "ipBlock"));
                    return workloads.Where(w => Matches(Get(peer, "podSelector", "matchLabels"), w)).Select(w => Scalar(w, "metadata", "name")!);
                }).ToList()
                : ["*"];
            var ports = Get(rule, "ports") is YamlSequenceNode list
                ? list.Children.Select(p => Scalar(p, "port")!).Select(p => namedPorts.GetValueOrDefault(p, p)).ToList()
                : ["*"];
            foreach (var source in sources)
            {
                foreach (var port in ports)
                {
                    allowed.Add((source, port));
                }
            }
        }

        return allowed;
    }

    [Fact]
    public void Kubernetes_NetworkPolicies_LetOnlyGatewaysReachSilosAndOnlySilosAndGatewaysReachRedis()
    {
        var documents = KubernetesDocuments();
        Assert.Equal(
            new HashSet<(string, string)> { ("silo", "11111"), ("gateway", "30000") },
            AllowedIngress(documents, "silo"));
        Assert.Equal(
            new HashSet<(string, string)> { ("silo", "6379"), ("gateway", "6379") },
            AllowedIngress(documents, "redis"));
    }

    [Fact]
    public void Kubernetes_RedisPassword_ComesFromTheSecret_AndEveryRedisClientUsesIt()
    {
        var documents = KubernetesDocuments();
        var secretKeys = ((YamlMappingNode)Get(documents.Single(d => Scalar(d, "kind") == "Secret"), "stringData")!).Children.Keys.Select(k => k.ToString()).ToList();
        Assert.Contains("redis-password", secretKeys);

        static void AssertPasswordFromSecret(List<YamlNode> env, string name)
        {
            var index = env.FindIndex(e => Scalar(e, "name") == "REDIS_PASSWORD");
            Assert.True(index >= 0, $"{name}: no REDIS_PASSWORD");
            Assert.Equal("distributed-secrets", Scalar(env[index], "valueFrom", "secretKeyRef", "name"));
            Assert.Equal("redis-password", Scalar(env[index], "valueFrom", "secretKeyRef", "key"));
        }

        var redis = Containers(Workload(documents, "redis")).Single();
        AssertPasswordFromSecret(Env(redis), "redis");
        var args = ((YamlSequenceNode)Get(redis, "args")!).Children.Select(a => a.ToString()).ToList();
        Assert.Equal("$(REDIS_PASSWORD)", args[args.IndexOf("--requirepass") + 1]);

        foreach (var client in new[] { "silo", "gateway" })
        {
            var env = Env(Containers(Workload(documents, client)).Single());
            AssertPasswordFromSecret(env, client);

            // Kubernetes expands $(REDIS_PASSWORD) only from variables defined earlier in the list.
            var connection = env.FindIndex(e => Scalar(e, "name") == "Orleans__Redis");
            Assert.True(connection > env.FindIndex(e => Scalar(e, "name") == "REDIS_PASSWORD"), $"{client}: Orleans__Redis must follow REDIS_PASSWORD");
            Assert.Contains("password=$(REDIS_PASSWORD)", Scalar(env[connection], "value"), StringComparison.Ordinal);
        }

        // No connection string without the password left in the shared config map.
        Assert.Null(Scalar(documents.Single(d => Scalar(d, "kind") == "ConfigMap"), "data", "Orleans__Redis"));
    }

    [Fact]
    public void Kubernetes_EverySecretIsUsedForOneThingOnly_TheDashboardHasItsOwn()
    {
        var documents = KubernetesDocuments();
        var uses = documents.Where(d => Scalar(d, "kind") is "Deployment" or "StatefulSet")
            .SelectMany(Containers).SelectMany(Env)
            .Where(e => Scalar(e, "valueFrom", "secretKeyRef", "key") is not null)
            .GroupBy(e => Scalar(e, "valueFrom", "secretKeyRef", "key")!)
            .ToDictionary(g => g.Key, g => g.Select(e => Scalar(e, "name")!).ToHashSet());
        Assert.Equal(["Orleans__Dashboard__Password"], uses["dashboard-password"]);
        Assert.Equal(["Balancer__Admin__ApiKey"], uses["admin-api-key"]);
        Assert.Equal(["Balancer__Cookies__SigningKey"], uses["cookie-signing-key"]);
        Assert.Equal(["REDIS_PASSWORD"], uses["redis-password"]);
    }

    [Fact]
    public void Kubernetes_EveryPodAndContainer_HasTheSecurityContextDocsSecurityMdClaims()
    {
        foreach (var workload in KubernetesDocuments().Where(d => Scalar(d, "kind") is "Deployment" or "StatefulSet"))
        {
            var name = Scalar(workload, "metadata", "name");
            Assert.True(Scalar(workload, "spec", "template", "spec", "securityContext", "runAsNonRoot") == "true", $"{name}: pod without runAsNonRoot: true");
            var volumes = ((Get(workload, "spec", "template", "spec", "volumes") as YamlSequenceNode)?.Children ?? []).Select(v => Scalar(v, "name"))
                .Concat(((Get(workload, "spec", "volumeClaimTemplates") as YamlSequenceNode)?.Children ?? []).Select(v => Scalar(v, "metadata", "name")))
                .ToHashSet();
            foreach (var container in Containers(workload))
            {
                var what = $"{name}/{Scalar(container, "name")}";
                Assert.True(Scalar(container, "securityContext", "allowPrivilegeEscalation") == "false", $"{what}: privilege escalation allowed");
                Assert.True(Scalar(container, "securityContext", "readOnlyRootFilesystem") == "true", $"{what}: writable root file system");
                Assert.Contains("ALL", ((YamlSequenceNode)Get(container, "securityContext", "capabilities", "drop")!).Children.Select(c => c.ToString()));
                Assert.Null(Get(container, "securityContext", "capabilities", "add"));
                Assert.NotEqual("true", Scalar(container, "securityContext", "privileged"));

                // What it writes goes to a volume of its own.
                foreach (var mount in (Get(container, "volumeMounts") as YamlSequenceNode)?.Children ?? [])
                {
                    Assert.Contains(Scalar(mount, "name"), volumes);
                }
            }
        }
    }

    [Fact]
    public void Compose_NetworksKeepBackendsAwayFromSilosAndRedis_RedisHasAPasswordAndNoPrivileges()
    {
        var compose = Documents(Path.Combine(Deploy, "compose", "docker-compose.yml")).Single();
        var services = ((YamlMappingNode)Get(compose, "services")!).Children.ToDictionary(s => s.Key.ToString(), s => s.Value);
        var networks = services.ToDictionary(
            s => s.Key,
            s => (Get(s.Value, "networks") as YamlSequenceNode)?.Children.Select(n => n.ToString()).ToHashSet() ?? ["default"]);
        IEnumerable<string> Neighbours(string service) => services.Keys.Where(other => other != service && networks[other].Overlaps(networks[service]));
        static bool IsClusterMember(string service) => service.StartsWith("silo", StringComparison.Ordinal) || service.StartsWith("gateway", StringComparison.Ordinal);

        Assert.All(Neighbours("redis"), n => Assert.True(IsClusterMember(n), $"{n} can reach Redis"));
        foreach (var silo in services.Keys.Where(s => s.StartsWith("silo", StringComparison.Ordinal)))
        {
            // The telemetry collectors (the dashboard takes OTLP, Prometheus scrapes /metrics) are the only others that
            // share a network with the silos.
            Assert.All(Neighbours(silo), n => Assert.True(IsClusterMember(n) || n is "redis" or "dashboard" or "prometheus", $"{n} can reach {silo}"));
        }

        var redis = services["redis"];
        var command = ((YamlSequenceNode)Get(redis, "command")!).Children.Select(c => c.ToString()).ToList();
        Assert.StartsWith("${REDIS_PASSWORD:?", command[command.IndexOf("--requirepass") + 1], StringComparison.Ordinal);
        Assert.Equal("true", Scalar(redis, "read_only"));
        Assert.Contains("ALL", ((YamlSequenceNode)Get(redis, "cap_drop")!).Children.Select(c => c.ToString()));
        Assert.Contains("no-new-privileges:true", ((YamlSequenceNode)Get(redis, "security_opt")!).Children.Select(c => c.ToString()));
        Assert.NotEqual("0", Scalar(redis, "user")?.Split(':')[0]);

        foreach (var (name, service) in services.Where(s => IsClusterMember(s.Key)))
        {
            Assert.Contains("password=${REDIS_PASSWORD", Scalar(service, "environment", "Orleans__Redis"), StringComparison.Ordinal);
            if (Scalar(service, "environment", "Orleans__Dashboard__Password") is { } dashboard)
            {
                Assert.StartsWith("${DASHBOARD_PASSWORD:?", dashboard, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void EchoBackendFaultSwitches_AreOffInComposeAndKubernetes()
    {
        var compose = Documents(Path.Combine(Deploy, "compose", "docker-compose.yml")).Single();
        var echoes = ((YamlMappingNode)Get(compose, "services")!).Children.Where(s => Scalar(s.Value, "build", "dockerfile")?.EndsWith("EchoBackend.Dockerfile", StringComparison.Ordinal) == true).ToList();
        Assert.NotEmpty(echoes);
        Assert.All(echoes, e => Assert.NotEqual("true", Scalar(e.Value, "environment", "Echo__FaultInjection")?.ToLowerInvariant()));

        var k8s = KubernetesDocuments().Where(d => Scalar(d, "kind") is "Deployment" or "StatefulSet").SelectMany(Containers).SelectMany(Env);
        Assert.DoesNotContain(k8s, e => Scalar(e, "name") == "Echo__FaultInjection" && Scalar(e, "value")?.ToLowerInvariant() == "true");

        // And the echo backend's own default is off.
        var settings = File.ReadAllText(Path.Combine(RepoPaths.Root, "samples", "EchoBackend", "appsettings.json"));
        Assert.DoesNotContain("FaultInjection", settings, StringComparison.Ordinal);
    }

    [Fact]
    public void RunScript_PutsTheAdminKeyInTheEnvironment_NotOnACommandLine()
    {
        var script = File.ReadAllText(Path.Combine(RepoPaths.Root, "run.sh"));
        Assert.DoesNotMatch(@"--Balancer:Admin:ApiKey", script);
        Assert.Matches(@"(?m)^export Balancer__Admin__ApiKey=""\$admin_key""$", script);
    }
}
