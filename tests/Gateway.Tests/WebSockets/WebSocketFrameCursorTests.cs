using Distributed.Gateway.WebSockets;

namespace Distributed.Gateway.Tests.WebSockets;

[Trait("Category", "Unit")]
public sealed class WebSocketFrameCursorTests
{
    [Theory]
    [InlineData(0, false)]
    [InlineData(5, false)]
    [InlineData(5, true)]
    [InlineData(125, true)]
    [InlineData(126, false)]
    [InlineData(300, true)]
    [InlineData(65535, false)]
    [InlineData(65536, true)]
    [InlineData(70000, false)]
    public void Advance_OneFrameWhole_EndsAtItsLastByte(int payload, bool masked)
    {
        var frame = WebSocketFrames.Frame(0x2, payload, masked);
        var cursor = new WebSocketFrameCursor();

        Assert.Equal(frame.Length, cursor.Advance(frame));
        Assert.True(cursor.AtBoundary);
    }

    [Fact]
    public void Advance_TwoFramesInOneBuffer_StopsAtTheFirstBoundary()
    {
        var first = WebSocketFrames.Frame(0x1, 10, masked: false);
        var second = WebSocketFrames.Frame(0x9, 0, masked: false);
        var cursor = new WebSocketFrameCursor();

        Assert.Equal(first.Length, cursor.Advance([.. first, .. second]));
        Assert.True(cursor.AtBoundary);
        Assert.Equal(second.Length, cursor.Advance(second));
        Assert.True(cursor.AtBoundary);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(1000)]
    public void Advance_FramesSplitAnywhere_FindsEveryBoundary(int chunk)
    {
        // Headers of every length (2, 4 and 10 bytes, masked or not) cut at every possible place.
        int[] payloads = [0, 1, 125, 126, 200, 65535, 65536, 3];
        var frames = payloads.Select((p, i) => WebSocketFrames.Frame(0x2, p, masked: i % 2 == 0)).ToList();
        var stream = frames.SelectMany(f => f).ToArray();
        var expected = new List<int>();
        var end = 0;
        foreach (var frame in frames)
        {
            expected.Add(end += frame.Length);
        }

        var cursor = new WebSocketFrameCursor();
        var boundaries = new List<int>();
        for (var offset = 0; offset < stream.Length; offset += chunk)
        {
            var piece = stream.AsSpan(offset, Math.Min(chunk, stream.Length - offset));
            var position = offset;
            while (!piece.IsEmpty)
            {
                var consumed = cursor.Advance(piece);
                position += consumed;
                piece = piece[consumed..];
                if (cursor.AtBoundary)
                {
                    boundaries.Add(position);
                }
            }
        }

        Assert.Equal(expected, boundaries);
    }
}

/// <summary>WebSocket frames for tests (RFC 6455 §5.2).</summary>
internal static class WebSocketFrames
{
    public static byte[] Frame(byte opcode, int payload, bool masked)
    {
        var header = new List<byte> { (byte)(0x80 | opcode) };
        var mask = masked ? 0x80 : 0;
        if (payload < 126)
        {
            header.Add((byte)(mask | payload));
        }
        else if (payload <= ushort.MaxValue)
        {
            header.AddRange([(byte)(mask | 126), (byte)(payload >> 8), (byte)payload]);
        }
        else
        {
            header.AddRange([(byte)(mask | 127), 0, 0, 0, 0, (byte)(payload >> 24), (byte)(payload >> 16), (byte)(payload >> 8), (byte)payload]);
        }

        if (masked)
        {
            header.AddRange([0x11, 0x22, 0x33, 0x44]);
        }

        // A payload that looks like headers (0x81 0x7E ...) to catch a cursor that reads payload as framing.
        return [.. header, .. Enumerable.Range(0, payload).Select(i => (byte)(i % 2 == 0 ? 0x81 : 0x7E))];
    }
}
