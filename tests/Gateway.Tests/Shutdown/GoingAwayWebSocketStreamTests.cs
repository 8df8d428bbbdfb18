using System.Net.WebSockets;
using System.Text;
using Distributed.Gateway.Shutdown;

namespace Distributed.Gateway.Tests.Shutdown;

/// <summary>
/// The client side of a proxied WebSocket at shutdown. The backend's frames are made by a real server-side
/// <see cref="WebSocket"/> and what reaches the client is read back by a real client-side one.
/// </summary>
[Trait("Category", "Unit")]
public sealed class GoingAwayWebSocketStreamTests
{
    private static readonly string Large = new('x', 70_000); // a frame with a 64-bit length

    [Fact]
    public async Task WriteAsync_NotClosing_PassesEveryByteThroughWhateverTheChunks()
    {
        var frames = await BackendFramesAsync("one", Large, "three");
        var all = frames.SelectMany(f => f).ToArray();
        var client = new MemoryStream();
        using var closing = new CancellationTokenSource();
        await using var stream = new GoingAwayWebSocketStream(client, closing.Token);

        foreach (var chunk in all.Chunk(777))
        {
            await stream.WriteAsync(chunk);
        }

        Assert.Equal(all, client.ToArray());
    }

    [Fact]
    public async Task Closing_BetweenFrames_SendsGoingAwayAtOnceAndNothingAfterIt()
    {
        var frames = await BackendFramesAsync("one", "two");
        var client = new MemoryStream();
        using var closing = new CancellationTokenSource();
        await using var stream = new GoingAwayWebSocketStream(client, closing.Token);
        await stream.WriteAsync(frames[0]);

        await closing.CancelAsync();
        await WaitForLengthAsync(client, frames[0].Length + 1);
        await stream.WriteAsync(frames[1]); // the backend's next message, after the goodbye: dropped

        var (messages, close) = await ReadAsClientAsync(client.ToArray());
        Assert.Equal(["one"], messages);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, close.CloseStatus);
        Assert.Equal(GoingAwayWebSocketStream.Reason, close.CloseStatusDescription);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(1000)]
    public async Task Closing_InTheMiddleOfAFrame_FinishesTheFrameThenSendsGoingAway(int sentOfSecondFrame)
    {
        var frames = await BackendFramesAsync("one", Large, "three");
        var all = frames.SelectMany(f => f).ToArray();
        var client = new MemoryStream();
        using var closing = new CancellationTokenSource();
        await using var stream = new GoingAwayWebSocketStream(client, closing.Token);
        var cut = frames[0].Length + sentOfSecondFrame;
        await stream.WriteAsync(all.AsMemory(0, cut));

        await closing.CancelAsync();
        Assert.Equal(cut, client.Length); // no Close inside a frame
        foreach (var chunk in all[cut..].Chunk(5000))
        {
            await stream.WriteAsync(chunk);
        }

        var (messages, close) = await ReadAsClientAsync(client.ToArray());
        Assert.Equal(["one", Large], messages);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, close.CloseStatus);
    }

    [Fact]
    public async Task ReadAsync_PassesTheClientsBytesThrough()
    {
        var client = new MemoryStream("hello"u8.ToArray());
        using var closing = new CancellationTokenSource();
        await using var stream = new GoingAwayWebSocketStream(client, closing.Token);
        await closing.CancelAsync();

        var buffer = new byte[16];
        var read = await stream.ReadAsync(buffer);

        Assert.Equal("hello", Encoding.UTF8.GetString(buffer, 0, read));
    }

    // One frame per message, as a server WebSocket writes them.
    private static async Task<byte[][]> BackendFramesAsync(params string[] messages)
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

    private static async Task<(List<string> Messages, WebSocketReceiveResult Close)> ReadAsClientAsync(byte[] received)
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

    private static async Task WaitForLengthAsync(MemoryStream stream, long length)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (stream.Length < length)
        {
            Assert.True(DateTime.UtcNow < deadline, "the Close frame was not written");
            await Task.Delay(10);
        }
    }
}
