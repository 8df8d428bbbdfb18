using Distributed.Gateway.WebSockets;

namespace Distributed.Gateway.Tests.WebSockets;

[Trait("Category", "Unit")]
public sealed class WebSocketCloseStreamTests
{
    // An unmasked server frame: FIN + text, with a 7-bit or 16-bit length.
    private static byte[] Frame(int length, byte fill)
    {
        var header = length < 126 ? [0x81, (byte)length] : new byte[] { 0x81, 126, (byte)(length >> 8), (byte)length };
        return [.. header, .. Enumerable.Repeat(fill, length)];
    }

    private static readonly byte[] CloseFrame = [0x88, 2 + 15, 0x03, 0xE9, .. "backend drained"u8.ToArray()];

    [Fact]
    public async Task CloseAsync_BetweenFrames_WritesTheCloseFrameAtOnceAndDropsWhatFollows()
    {
        var client = new MemoryStream();
        var stream = new WebSocketCloseStream(client);
        var first = Frame(10, 1);
        await stream.WriteAsync(first);

        await stream.CloseAsync(1001, "backend drained", CancellationToken.None);
        await stream.WriteAsync(Frame(5, 2));

        Assert.True(stream.Closed);
        Assert.Equal([.. first, .. CloseFrame], client.ToArray());
    }

    [Fact]
    public async Task CloseAsync_InsideAFrameSplitOverWrites_WaitsForItsEndAndNeverCutsIt()
    {
        var client = new MemoryStream();
        var stream = new WebSocketCloseStream(client);
        var big = Frame(300, 7); // 16-bit length
        var next = Frame(4, 9);
        await stream.WriteAsync(big.AsMemory(0, 3)); // inside the header
        await stream.CloseAsync(1001, "backend drained", CancellationToken.None);
        Assert.False(stream.Closed);
        await stream.WriteAsync(big.AsMemory(3, 100));
        Assert.False(stream.Closed);

        // The rest of the frame and the start of the next arrive in one write: only the former reaches the client.
        await stream.WriteAsync((byte[])[.. big[103..], .. next]);

        Assert.True(stream.Closed);
        Assert.Equal([.. big, .. CloseFrame], client.ToArray());
    }
}
