using System.Net.WebSockets;
using Distributed.Gateway.WebSockets;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Distributed.Gateway.Tests.WebSockets;

/// <summary>Open WebSockets closed by the gateway: a close frame, then an abort only if the handshake does not end the tunnel.</summary>
[Trait("Category", "Unit")]
public sealed class WebSocketRegistryTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task Close_AnUpgradedSocket_SendsTheCloseAndAbortsTheTunnelOnlyAfterTheGrace()
    {
        var registry = new WebSocketRegistry(_time, NullLogger<WebSocketRegistry>.Instance);
        var (context, aborts) = Context();
        using var socket = registry.Register("web", "b1", context);
        var client = new MemoryStream();
        socket.Attach(client);

        Assert.True(socket.Close(WebSocketCloseStatus.EndpointUnavailable, "backend drained"));
        await WaitAsync(() => client.Length > 0, "the close frame");
        Assert.Equal(0, aborts.Count);

        _time.Advance(OpenWebSocket.CloseGrace - TimeSpan.FromMilliseconds(1));
        Assert.Equal(0, aborts.Count);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        await WaitAsync(() => aborts.Count == 1, "the abort after the grace");

        var (_, close) = await WebSocketCloseStreamTests.ReadAsClientAsync(client.ToArray());
        Assert.Equal("backend drained", close.CloseStatusDescription);
        Assert.False(socket.Close(WebSocketCloseStatus.EndpointUnavailable, "again")); // one close per socket
    }

    [Fact]
    public async Task Close_TunnelEndsWithinTheGrace_IsNeverAbortedAndLeavesTheRegistry()
    {
        var registry = new WebSocketRegistry(_time, NullLogger<WebSocketRegistry>.Instance);
        var (context, aborts) = Context();
        var socket = registry.Register("web", "b1", context);
        var client = new MemoryStream();
        socket.Attach(client);
        socket.Close(WebSocketCloseStatus.EndpointUnavailable, "backend drained");
        await WaitAsync(() => client.Length > 0, "the close frame");

        socket.Dispose(); // the close handshake ended the tunnel
        _time.Advance(OpenWebSocket.CloseGrace * 2);

        Assert.Equal(0, aborts.Count);
        Assert.Empty(registry.Open);
    }

    [Fact]
    public async Task Close_BeforeTheUpgradeCompletes_IsSentAsSoonAsItDoes()
    {
        var registry = new WebSocketRegistry(_time, NullLogger<WebSocketRegistry>.Instance);
        var (context, _) = Context();
        using var socket = registry.Register("web", "b1", context);

        Assert.True(socket.Close(WebSocketCloseStatus.EndpointUnavailable, "backend drained"));
        var client = new MemoryStream();
        socket.Attach(client);

        await WaitAsync(() => client.Length > 0, "the close frame once upgraded");
        var (_, close) = await WebSocketCloseStreamTests.ReadAsClientAsync(client.ToArray());
        Assert.Equal("backend drained", close.CloseStatusDescription);
    }

    [Fact]
    public async Task CloseAll_ClosesEveryOpenSocketAndEveryOneRegisteredAfter()
    {
        var registry = new WebSocketRegistry(_time, NullLogger<WebSocketRegistry>.Instance);
        using var first = registry.Register("web", "b1", Context().Context);
        using var second = registry.Register("chat", "b2", Context().Context);
        var (one, two) = (new MemoryStream(), new MemoryStream());
        first.Attach(one);
        second.Attach(two);

        Assert.Equal(2, registry.CloseAll(WebSocketCloseStatus.EndpointUnavailable, "gateway shutting down"));
        using var late = registry.Register("web", "b1", Context().Context); // raced with the shutdown
        var three = new MemoryStream();
        late.Attach(three);

        foreach (var client in new[] { one, two, three })
        {
            await WaitAsync(() => client.Length > 0, "a close frame on every socket");
            var (_, close) = await WebSocketCloseStreamTests.ReadAsClientAsync(client.ToArray());
            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, close.CloseStatus);
            Assert.Equal("gateway shutting down", close.CloseStatusDescription);
        }
    }

    private static (HttpContext Context, AbortCounter Aborts) Context()
    {
        var context = new DefaultHttpContext();
        var aborts = new AbortCounter();
        context.Features.Set<IHttpRequestLifetimeFeature>(aborts);
        return (context, aborts);
    }

    // The close is written on its own task (the stream's lock); a deadline, not a sleep, bounds the wait for it.
    private static async Task WaitAsync(Func<bool> condition, string what)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!condition())
        {
            Assert.False(deadline.IsCancellationRequested, $"Timed out waiting for {what}.");
            await Task.Yield();
            await Task.Delay(1, CancellationToken.None);
        }
    }

    private sealed class AbortCounter : IHttpRequestLifetimeFeature
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public CancellationToken RequestAborted { get; set; }

        public void Abort() => Interlocked.Increment(ref _count);
    }
}
