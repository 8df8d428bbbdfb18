using Distributed.Topology;

namespace Distributed.Chaos.Tests;

/// <summary>
/// The gateways a client can reach, as a Kubernetes Service or a health-checked DNS name offers them: a gateway is in
/// rotation while its <c>/readyz</c> answers 2xx, polled every <see cref="ProbeInterval"/>, and leaves it at the first
/// probe that does not (a stopping gateway answers 503 from SIGTERM on). A client that only sends to gateways in
/// rotation meets a stopping gateway only during its drain period, which must therefore outlast one probe interval
/// plus a probe's round trip, the model's "endpoint propagation".
/// </summary>
public sealed class GatewayRotation : IAsyncDisposable
{
    /// <summary>How often each gateway's readiness is probed.</summary>
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(200);

    private readonly LocalTopology _topology;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(1) };
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _probing;
    private volatile int[] _ready = [];

    /// <summary>Starts probing; <see cref="WaitUntilAllReadyAsync"/> before sending.</summary>
    public GatewayRotation(LocalTopology topology)
    {
        _topology = topology;
        _probing = Task.Run(ProbeAsync);
    }

    /// <summary>Indexes of the gateways in rotation now.</summary>
    public IReadOnlyList<int> Ready => _ready;

    /// <summary>Waits until every gateway is in rotation.</summary>
    public Task WaitUntilAllReadyAsync(TimeSpan timeout) =>
        Wait.UntilAsync(() => Task.FromResult(_ready.Length == _topology.Gateways.Count), timeout, "every gateway to be in rotation");

    /// <summary>The gateway for the <paramref name="slot"/>-th pick, round robin over those in rotation; null when none is.</summary>
    public int? Pick(long slot)
    {
        var ready = _ready;
        return ready.Length == 0 ? null : ready[(int)(slot % ready.Length)];
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _probing;
        _http.Dispose();
        _stop.Dispose();
    }

    private async Task ProbeAsync()
    {
        using var timer = new PeriodicTimer(ProbeInterval);
        do
        {
            var probes = await Task.WhenAll(_topology.Gateways.Select(async (gateway, index) => (index, ready: await IsReadyAsync(gateway))));
            _ready = [.. probes.Where(p => p.ready).Select(p => p.index)];
        }
        while (await WaitForTickAsync(timer));
    }

    private async Task<bool> WaitForTickAsync(PeriodicTimer timer)
    {
        try
        {
            return await timer.WaitForNextTickAsync(_stop.Token);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task<bool> IsReadyAsync(GatewayNode gateway)
    {
        try
        {
            using var response = await _http.GetAsync(new Uri(gateway.AdminAddress, "/readyz"), _stop.Token);
            return response.IsSuccessStatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }
}
