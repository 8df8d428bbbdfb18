using Distributed.Topology;
using YamlDotNet.RepresentationModel;

namespace Distributed.Integration.Tests;

/// <summary>
/// Security settings that stop a gateway or silo at start-up, with exit code 78 and a message naming the key: the
/// manifests' placeholder secrets, short keys, claim pools without authentication, malformed proxy networks,
/// unusable TLS settings (cluster TLS; a backends' CA file that is missing or holds no certificate), and values that
/// are not of their setting's type. Real processes, as an operator would start them.
/// </summary>
[Trait("Category", "Integration")]
public sealed class StartupValidationTests(ITestOutputHelper output) : ProcessTest(output)
{
    private const int ConfigurationErrorExitCode = 78;

    // The values of deploy/k8s/secret.yaml, as a careless `kubectl apply -k` would hand them to the processes.
    private static readonly Dictionary<string, string> ManifestPlaceholders = ReadManifestSecrets();

    public static TheoryData<string, string, string> GatewayCases => new()
    {
        { "Balancer:Admin:ApiKey", ManifestPlaceholders["admin-api-key"], "placeholder" },
        { "Balancer:Admin:ApiKey", "0123456789abcdef", "too short" },
        { "Balancer:Admin:ApiKey", "short-but-not-hex", "too short" },
        { "Balancer:Cookies:SigningKey", ManifestPlaceholders["cookie-signing-key"], "placeholder" },
        { "Orleans:Redis", $"127.0.0.1:1,password={ManifestPlaceholders["redis-password"]}", "placeholder" },
        { "Balancer:Pools:web:SessionKey", "Claim:sub", "needs authenticated users" },
        { "Balancer:ForwardedHeaders:KnownNetworks:0", "10.0.0.1/8", "CIDR" },
        { "Balancer:ForwardedHeaders:KnownProxies:0", "10.0.0.0/8", "KnownNetworks" },
        { "Orleans:Tls:Enabled", "true", "Orleans:Tls:CertificatePath" },
        { "Balancer:RateLimit:PermitsPerSecond", "-1", "must not be negative" },
        { "Balancer:ReportInterval", "soon", "TimeSpan" }, // a value the binder cannot convert: a message, not a crash
        { "Balancer:Pools:web:BackendTls:CaCertificatePath", "/nonexistent/ca.pem", "does not exist" },
        { "Balancer:Pools:web:BackendTls:CaCertificatePath", Path.Combine(RepoPaths.Root, "README.md"), "holds no PEM certificate" },
    };

    public static TheoryData<string, string, string> SiloCases => new()
    {
        { "Orleans:Dashboard:Password", ManifestPlaceholders["dashboard-password"], "placeholder" },
        { "Orleans:Dashboard:Password", "hunter2", "too short" },
        { "Orleans:Redis", $"127.0.0.1:1,password={ManifestPlaceholders["redis-password"]}", "placeholder" },
        { "Orleans:Tls:Enabled", "true", "Orleans:Tls:CertificatePath" },
    };

    [Theory]
    [MemberData(nameof(GatewayCases))]
    public async Task Gateway_WithAnUnsafeSetting_RefusesToStartNamingTheKey(string key, string value, string reason)
    {
        var ports = FreePorts.Next(2);
        var settings = new Dictionary<string, string>
        {
            ["--urls"] = $"http://127.0.0.1:{ports[0]}",
            ["--Balancer:Admin:Url"] = $"http://127.0.0.1:{ports[1]}",
            ["--Balancer:Pools:web:Backends:b1:Address"] = "http://127.0.0.1:1",
            ["--Balancer:Admin:ApiKey"] = "0123456789abcdef0123456789abcdef",
            ["--" + key] = value,
        };
        await AssertRefusedAsync("gateway", RepoPaths.AppDll("src/Gateway", "Distributed.Gateway"), settings, key, reason);
    }

    [Fact]
    public async Task Gateway_WithTheManagementListenerBeyondLoopbackAndNoKey_RefusesToStart()
    {
        var ports = FreePorts.Next(2);
        var settings = new Dictionary<string, string>
        {
            ["--urls"] = $"http://127.0.0.1:{ports[0]}",
            ["--Balancer:Admin:Url"] = $"http://0.0.0.0:{ports[1]}",
            ["--Balancer:Pools:web:Backends:b1:Address"] = "http://127.0.0.1:1",
        };
        await AssertRefusedAsync("gateway", RepoPaths.AppDll("src/Gateway", "Distributed.Gateway"), settings, "Balancer:Admin:ApiKey", "must be set");
    }

    [Theory]
    [MemberData(nameof(SiloCases))]
    public async Task Silo_WithAnUnsafeSetting_RefusesToStartNamingTheKey(string key, string value, string reason)
    {
        var ports = FreePorts.Next(3);
        var settings = new Dictionary<string, string>
        {
            ["--urls"] = $"http://127.0.0.1:{ports[0]}",
            ["--Orleans:SiloPort"] = ports[1].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["--Orleans:GatewayPort"] = ports[2].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["--" + key] = value,
        };
        await AssertRefusedAsync("silo", RepoPaths.AppDll("src/Silo", "Distributed.Silo"), settings, key, reason);
    }

    private static async Task AssertRefusedAsync(string name, string dll, Dictionary<string, string> settings, string key, string reason)
    {
        await using var process = ManagedProcess.Start(name, dll, settings.SelectMany(s => new[] { s.Key, s.Value }));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"{name} with {key} did not stop within 60 s:\n{process.RecentOutput()}");
        }

        var output = process.RecentOutput();
        Assert.True(process.ExitCode == ConfigurationErrorExitCode, $"{name} exited with {process.ExitCode}, not {ConfigurationErrorExitCode}:\n{output}");
        Assert.Contains("Invalid configuration", output, StringComparison.Ordinal);
        Assert.Contains(key.Replace(":0", "", StringComparison.Ordinal), output, StringComparison.Ordinal);
        Assert.Contains(reason, output, StringComparison.OrdinalIgnoreCase);
    }

    private static Dictionary<string, string> ReadManifestSecrets()
    {
        var stream = new YamlStream();
        using (var reader = File.OpenText(Path.Combine(RepoPaths.Root, "deploy", "k8s", "secret.yaml")))
        {
            stream.Load(reader);
        }

        var data = (YamlMappingNode)((YamlMappingNode)stream.Documents.Single().RootNode).Children[new YamlScalarNode("stringData")];
        return data.Children.ToDictionary(e => ((YamlScalarNode)e.Key).Value!, e => ((YamlScalarNode)e.Value).Value!);
    }
}
