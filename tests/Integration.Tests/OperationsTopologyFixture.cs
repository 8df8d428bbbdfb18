using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Distributed.Topology;

namespace Distributed.Integration.Tests;

/// <summary>
/// 1 silo, 2 gateways, 3 echo backends, and one pool per concern so the tests do not disturb each other:
/// <c>web</c> (header key, fast active health checks, every path), <c>passive</c> (/p/, no probes, quick ejection),
/// <c>weighted</c> (/w/, b1 weight 1 and b2 weight 3), <c>limited</c> (/l/, 3 in flight per backend),
/// <c>slow</c> (/s/, b1 only, 6 s slow start), and one pool per balancing policy: <c>rr</c> (/rr/, weighted round robin,
/// b1 weight 3), <c>random</c> (/random/, weighted random, b1 weight 3), <c>hash</c> (/hash/, session header
/// <c>X-Session-Id</c>, hash over header <c>X-Tenant</c>), <c>first</c> (/first/, first available); <c>ws</c> (/ws/,
/// header sessions) for WebSockets.
/// </summary>
public sealed class OperationsTopologyFixture : TopologyFixture
{
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(500);
    public static readonly TimeSpan SlowStart = TimeSpan.FromSeconds(6);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    protected override TopologyOptions Options() => new()
    {
        Silos = 1,
        Gateways = 2,
        Backends = 3,
        Balancer = backends =>
        {
            var settings = TopologyOptions.AddRoutedPool([], "web", "Header:X-Session-Id", backends, "/{**rest}", order: 10);
            settings["Balancer:Pools:web:HealthCheck:Interval"] = "00:00:00.500";
            settings["Balancer:Pools:web:HealthCheck:Timeout"] = "00:00:00.400";
            settings["Balancer:Pools:web:HealthCheck:Rise"] = "2";
            settings["Balancer:Pools:web:HealthCheck:Fall"] = "2";

            Add(settings, "passive", "/p/{**rest}", backends);
            settings["Balancer:Pools:passive:PassiveHealth:ConsecutiveFailures"] = "3";
            settings["Balancer:Pools:passive:PassiveHealth:EjectionTime"] = "00:00:05";

            Add(settings, "weighted", "/w/{**rest}", backends.Take(2).ToList());
            settings["Balancer:Pools:weighted:Backends:b2:Weight"] = "3";

            Add(settings, "limited", "/l/{**rest}", backends.Take(2).ToList());
            settings["Balancer:Pools:limited:Backends:b1:MaxInFlight"] = "3";
            settings["Balancer:Pools:limited:Backends:b2:MaxInFlight"] = "3";

            Add(settings, "slow", "/s/{**rest}", backends.Take(1).ToList());
            settings["Balancer:Pools:slow:SlowStart"] = SlowStart.ToString("c", System.Globalization.CultureInfo.InvariantCulture);

            // One pool per balancing policy (BalancingPolicyTests); b1 weighs 3 in the weighted ones.
            Add(settings, "rr", "/rr/{**rest}", backends);
            settings["Balancer:Pools:rr:Policy"] = "WeightedRoundRobin";
            settings["Balancer:Pools:rr:Backends:b1:Weight"] = "3";
            Add(settings, "random", "/random/{**rest}", backends);
            settings["Balancer:Pools:random:Policy"] = "Random";
            settings["Balancer:Pools:random:Backends:b1:Weight"] = "3";
            Add(settings, "hash", "/hash/{**rest}", backends);
            settings["Balancer:Pools:hash:SessionKey"] = "Header:X-Session-Id";
            settings["Balancer:Pools:hash:Policy"] = "Hash";
            settings["Balancer:Pools:hash:HashKey"] = "Header:X-Tenant";
            Add(settings, "first", "/first/{**rest}", backends);
            settings["Balancer:Pools:first:Policy"] = "FirstAvailable";

            // WebSocketTests: header sessions holding WebSockets open.
            Add(settings, "ws", "/ws/{**rest}", backends);
            settings["Balancer:Pools:ws:SessionKey"] = "Header:X-Session-Id";
            return settings;
        },
    };

    // A keyless pool without probes (so only the concern under test acts on it) behind its own path prefix.
    private static void Add(Dictionary<string, string> settings, string pool, string path, IReadOnlyList<BackendNode> backends)
    {
        TopologyOptions.AddRoutedPool(settings, pool, "", backends, path, order: 0);
        settings[$"Balancer:Pools:{pool}:HealthCheck:Enabled"] = "false";
    }

    /// <summary>An admin API request with the gateway's API key.</summary>
    public HttpRequestMessage Admin(HttpMethod method, string path, object? body = null, int gateway = 0)
    {
        var request = new HttpRequestMessage(method, new Uri(Topology.Gateways[gateway].AdminAddress, path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Topology.AdminApiKey);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, options: Json);
        }

        return request;
    }

    /// <summary>The backends of a pool as the admin API shows them.</summary>
    public async Task<List<BackendInfo>> BackendsAsync(string pool, int gateway = 0)
    {
        using var request = Admin(HttpMethod.Get, $"/admin/pools/{pool}/backends", gateway: gateway);
        using var response = await Http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<List<BackendInfo>>(Json))!;
    }

    /// <summary>Sends a request and returns the answering backend (or null with the status).</summary>
    public async Task<(int Status, string? Backend)> SendAsync(int gateway, string path, string? sessionKey = null, int? delayMs = null, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Topology.Gateways[gateway].Address, path));
        if (sessionKey is not null)
        {
            request.Headers.Add("X-Session-Id", sessionKey);
        }

        if (delayMs is not null)
        {
            request.Headers.Add("X-Delay-Ms", delayMs.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        using var response = await Http.SendAsync(request, cancellationToken);
        return ((int)response.StatusCode, response.Headers.TryGetValues("X-Backend-Id", out var ids) ? ids.Single() : null);
    }

    public async Task<EchoStats> StatsAsync(string backend) =>
        (await Http.GetFromJsonAsync<EchoStats>(new Uri(Topology.Backends.Single(b => b.Id == backend).Address, "/_echo/stats"), Json))!;

    public async Task EchoAsync(string backend, string control)
    {
        using var response = await Http.PostAsync(new Uri(Topology.Backends.Single(b => b.Id == backend).Address, control), null);
        response.EnsureSuccessStatusCode();
    }
}

public sealed record BackendInfo(
    string Id,
    string Address,
    int Weight,
    double EffectiveWeight,
    int MaxInFlight,
    string State,
    string Health,
    bool AcceptsNewSessions,
    bool KeepsSessions,
    int ClusterInFlight,
    int Sessions,
    DateTimeOffset? DrainDeadline,
    int? DrainRemainingSessions,
    bool? SafeToRemove,
    double RequestRate,
    bool SessionsKnown);

public sealed record EchoStats(string Id, long Requests, long HealthChecks, int InFlight);
