using System.Net.WebSockets;
using Distributed.Gateway.Shutdown;
using Distributed.Gateway.Tests.WebSockets;
using Distributed.Gateway.WebSockets;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Distributed.Gateway.Tests.Shutdown;

[Trait("Category", "Unit")]
public sealed class GracefulShutdownTests
{
    private static readonly TimeSpan Drain = TimeSpan.FromSeconds(5);
    private readonly FakeTimeProvider _time = new();
    private readonly ApplicationLifetime _lifetime = new(NullLogger<ApplicationLifetime>.Instance);

    private readonly WebSocketRegistry _webSockets;

    public GracefulShutdownTests() => _webSockets = new WebSocketRegistry(_time, NullLogger<WebSocketRegistry>.Instance);

    private GracefulShutdown Create() =>
        new(_lifetime, Options.Create(new ShutdownOptions { DrainPeriod = Drain }), _webSockets, _time, NullLogger<GracefulShutdown>.Instance);

    [Fact]
    public async Task StoppingAsync_AfterSigterm_DrainsForTheDrainPeriodThenClosesEveryWebSocket()
    {
        var shutdown = Create();
        using var socket = _webSockets.Register("web", "b1", new DefaultHttpContext());
        var client = new MemoryStream();
        socket.Attach(client);
        Assert.False(shutdown.IsDraining);

        _lifetime.StopApplication(); // what SIGTERM does, before the host calls StoppingAsync
        Assert.True(shutdown.IsDraining);
        var stopping = shutdown.StoppingAsync(CancellationToken.None);

        _time.Advance(Drain - TimeSpan.FromMilliseconds(1));
        Assert.False(stopping.IsCompleted);
        Assert.False(socket.Closing);
        Assert.Equal(0, client.Length); // the WebSocket is served through the drain

        _time.Advance(TimeSpan.FromMilliseconds(1));
        await stopping;
        Assert.True(socket.Closing);
        Assert.True(shutdown.IsDraining);
        var (_, close) = await WebSocketCloseStreamTests.ReadAsClientAsync(client.ToArray());
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, close.CloseStatus);
        Assert.Equal(GracefulShutdown.WebSocketReason, close.CloseStatusDescription);
    }

    [Fact]
    public async Task StoppingAsync_HostShutdownTimeoutRunsOutDuringTheDrain_ClosesAtOnce()
    {
        var shutdown = Create();
        using var socket = _webSockets.Register("web", "b1", new DefaultHttpContext());
        using var hostTimeout = new CancellationTokenSource();
        _lifetime.StopApplication();
        var stopping = shutdown.StoppingAsync(hostTimeout.Token);

        await hostTimeout.CancelAsync();
        await stopping;

        Assert.True(socket.Closing);
    }
}
