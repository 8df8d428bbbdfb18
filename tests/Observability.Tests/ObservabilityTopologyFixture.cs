using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Distributed.Topology;

namespace Distributed.Observability.Tests;

/// <summary>Redis, 1 silo, 1 gateway and 3 echo backends as real processes (pool <c>web</c>, header key).</summary>
public sealed class ObservabilityTopologyFixture : TopologyFixture
{
    public GatewayNode Gateway => Topology.Gateways[0];

    protected override TopologyOptions Options() => new() { Silos = 1, Gateways = 1, Backends = 3 };

    /// <summary>Sends a request for <paramref name="sessionKey"/> and returns the backend that answered.</summary>
    public async Task<string> SendAsync(string sessionKey)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Gateway.Address, "/shop"));
        request.Headers.Add("X-Session-Id", sessionKey);
        using var response = await Http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return response.Headers.GetValues("X-Backend-Id").Single();
    }

    public async Task AdminAsync(HttpMethod method, string path, object? body = null)
    {
        var (status, _) = await AdminJsonAsync(method, path, body);
        Assert.True((int)status is >= 200 and < 300, $"{method} {path} answered {(int)status}.");
    }

    /// <summary>Calls the admin API and returns its status and JSON body (<c>null</c> when there is none).</summary>
    public async Task<(HttpStatusCode Status, JsonElement? Body)> AdminJsonAsync(HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(Gateway.AdminAddress, path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Topology.AdminApiKey);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (text.Length == 0)
        {
            return (response.StatusCode, null);
        }

        using var document = JsonDocument.Parse(text);
        return (response.StatusCode, document.RootElement.Clone());
    }

    /// <summary>A backend of pool <c>web</c> as the admin API shows it.</summary>
    public async Task<JsonElement> BackendAsync(string id)
    {
        var (status, body) = await AdminJsonAsync(HttpMethod.Get, "/admin/pools/web/backends");
        Assert.Equal(HttpStatusCode.OK, status);
        return body!.Value.EnumerateArray().Single(b => b.GetProperty("id").GetString() == id);
    }
}

[CollectionDefinition(Name)]
public sealed class ObservabilityTopology : ICollectionFixture<ObservabilityTopologyFixture>
{
    public const string Name = "observability topology";
}
