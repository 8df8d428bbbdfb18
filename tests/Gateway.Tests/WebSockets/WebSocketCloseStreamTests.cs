using System.Net.WebSockets;
using System.Text;
using Distributed.Gateway.WebSockets;

namespace Distributed.Gateway.Tests.WebSockets;

/// <summary>
/// The client side of a proxied WebSocket, closed by the gateway. The backend's frames are made by a real server-side
/// <see cref="WebSocket"/> and what reaches the client is read back by a real client-side one.
/// </summary>
[Trait("Category", "Unit")]
public sealed class WebSocketCloseStreamTests
{
    private const string Reason = "backend drained";
    private static readonly string Large = new('x', 70_000); // a frame with a 64-bit length

    [Fact]
    public async Task WriteAsync_NotClosing_PassesEveryByteThroughWhateverTheChunks()
    {
        var frames = await BackendFramesAsync("one", Large, "three");
        var all = frames.SelectMany(f => f).ToArray();
        var client = new MemoryStream();
        await using var stream = new WebSocketCloseStream(client);

        foreach (var chunk in all.Chunk(777))
        {
            await stream.WriteAsync(chunk);
        }

        Assert.Equal(all, client.ToArray());
        Assert.False(stream.Closed);
    }

    [Fact]
    public async Task CloseAsync_BetweenFrames_SendsTheCloseAtOnceAndNothingAfterIt()
    {
        var frames = await BackendFramesAsync("one", "two");
        var client = new MemoryStream();
        await using var stream = new WebSocketCloseStream(client);
        await stream.WriteAsync(frames[0]);

        await stream.CloseAsync(WebSocketCloseStatus.EndpointUnavailable, Reason, CancellationToken.None);
        Assert.True(stream.Closed);
        await stream.WriteAsync(frames[1]); // the backend's next message, after the close: dropped

        var (messages, close) = await ReadAsClientAsync(client.ToArray());
        Assert.Equal(["one"], messages);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, close.CloseStatus);
        Assert.Equal(Reason, close.CloseStatusDescription);
    }

    [Theory]
    [InlineData(1)] // inside the 64-bit length header
    [InlineData(3)]
    [InlineData(1000)] // inside the payload
    public async Task CloseAsync_InTheMiddleOfAFrame_FinishesTheFrameThenSendsTheClose(int sentOfSecondFrame)
    {
        var frames = await BackendFramesAsync("one", Large, "three");
        var all = frames.SelectMany(f => f).ToArray();
        var client = new MemoryStream();
        await using var stream = new WebSocketCloseStream(client);
        var cut = frames[0].Length + sentOfSecondFrame;
        await stream.WriteAsync(all.AsMemory(0, cut));

        await stream.CloseAsync(WebSocketCloseStatus.EndpointUnavailable, Reason, CancellationToken.None);
        Assert.Equal(cut, client.Length); // no close inside a frame
        Assert.False(stream.Closed);

        // The rest of the large frame and the third one arrive in chunks that straddle the boundary: only the former
        // reaches the client.
        foreach (var chunk in all[cut..].Chunk(5000))
        {
            await stream.WriteAsync(chunk);
        }

        var (messages, close) = await ReadAsClientAsync(client.ToArray());
        Assert.Equal(["one", Large], messages);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, close.CloseStatus);
        Assert.Equal(Reason, close.CloseStatusDescription);
        Assert.Equal(frames[0].Length + frames[1].Length + 2 + 2 + Reason.Length, client.Length);
    }

    [Fact]
    public async Task CloseAsync_Twice_SendsOnlyTheFirstClose()
    {
        var client = new MemoryStream();
        await using var stream = new WebSocketCloseStream(client);

        await stream.CloseAsync(WebSocketCloseStatus.EndpointUnavailable, Reason, CancellationToken.None);
        await stream.CloseAsync(WebSocketCloseStatus.EndpointUnavailable, "gateway shutting down", CancellationToken.None);

        var (messages, close) = await ReadAsClientAsync(client.ToArray());
        Assert.Empty(messages);
        Assert.Equal(Reason, close.CloseStatusDescription);
        Assert.Equal(2 + 2 + Reason.Length, client.Length);
    }

    [Fact]
    public async Task CloseAsync_WhileAWriteIsStuckOnTheClient_GivesUpAtItsTokenAndTheWriteStillEndsWithTheClose()
    {
        var frames = await BackendFramesAsync("one");
        var client = new GatedStream();
        await using var stream = new WebSocketCloseStream(client);
        var writing = stream.WriteAsync(frames[0]).AsTask(); // the client reads nothing: the write waits
        await client.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10));

        using var grace = new CancellationTokenSource();
        var closing = stream.CloseAsync(WebSocketCloseStatus.EndpointUnavailable, Reason, grace.Token);
        await grace.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => closing);

        client.Open.SetResult(); // the client reads again: the frame ends, and the close due goes after it
        await writing.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(stream.Closed);
        var (messages, close) = await ReadAsClientAsync(client.Written.ToArray());
        Assert.Equal(["one"], messages);
        Assert.Equal(Reason, close.CloseStatusDescription);
    }

    [Fact]
    public async Task ReadAsync_PassesTheClientsBytesThroughAfterTheClose()
    {
        var client = new ClientStream(new MemoryStream("hello"u8.ToArray()));
        await using var stream = new WebSocketCloseStream(client);
        await stream.CloseAsync(WebSocketCloseStatus.EndpointUnavailable, Reason, CancellationToken.None);

        var buffer = new byte[16];
        var read = await stream.ReadAsync(buffer);

        Assert.Equal("hello", Encoding.UTF8.GetString(buffer, 0, read)); // the client's answering close reaches the backend
    }

    // One frame per message, as a server WebSocket writes them.
    internal static async Task<byte[][]> BackendFramesAsync(params string[] messages)
    {
        var frames = new List<byte[]>();
        foreach (var message in messages)
        {
            var sink = new MemoryStream();
            using var server = WebSocket.CreateFromStream(sink, isServer: true, subProtocol: null, keepAliveInterval: Timeout.InfiniteTimeSpan);
            await server.SendAsync(Encoding.UTF8.GetBytes(message), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
            frames.Add(sink.ToArray());
        }

        return [.. frames];
    }

    internal static async Task<(List<string> Messages, WebSocketReceiveResult Close)> ReadAsClientAsync(byte[] received)
    {
        using var client = WebSocket.CreateFromStream(new MemoryStream(received), isServer: false, subProtocol: null, keepAliveInterval: Timeout.InfiniteTimeSpan);
        var messages = new List<string>();
        var buffer = new byte[100_000];
        var text = new StringBuilder();
        while (true)
        {
            var result = await client.ReceiveAsync(buffer, CancellationToken.None);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return (messages, result);
            }

            text.Append(Encoding.UTF8.GetString(buffer, 0, result.Count));
            if (result.EndOfMessage)
            {
                messages.Add(text.ToString());
                text.Clear();
            }
        }
    }

    // A client that sent what it reads from, and gets what is written to it.
    private sealed class ClientStream(Stream sent) : MemoryStream
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => sent.ReadAsync(buffer, cancellationToken);
    }

    // A client whose first write waits until the test opens it, as a socket whose peer stopped reading.
    private sealed class GatedStream : MemoryStream
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Open { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public MemoryStream Written { get; } = new();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Entered.TrySetResult();
            await Open.Task.WaitAsync(cancellationToken);
            await Written.WriteAsync(buffer, cancellationToken);
        }
    }
}
