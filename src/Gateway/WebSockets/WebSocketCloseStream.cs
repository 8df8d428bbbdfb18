using System.Buffers.Binary;
using System.Text;

namespace Distributed.Gateway.WebSockets;

/// <summary>
/// The client side of an upgraded WebSocket connection as YARP sees it. YARP copies the backend's bytes into it without
/// looking at them; this stream follows the frame boundaries of that server-to-client direction (frame headers only,
/// payloads are passed through untouched) so that the gateway can end the connection properly: a close frame written
/// between two frames, never inside one, after which the backend's bytes are dropped.
/// </summary>
internal sealed class WebSocketCloseStream(Stream inner) : Stream
{
    private readonly SemaphoreSlim _write = new(1, 1);
    private readonly byte[] _header = new byte[14];
    private int _headerLength;
    private long _payloadLeft;
    private byte[]? _pendingClose;
    private volatile bool _closed;

    /// <summary>Whether the gateway's close frame has been sent (the backend's bytes are dropped since).</summary>
    public bool Closed => _closed;

    /// <summary>
    /// Sends a close frame with <paramref name="status"/> and <paramref name="reason"/> at the next frame boundary:
    /// now when the stream is between frames, else as soon as the frame being written ends.
    /// </summary>
    public async Task CloseAsync(ushort status, string reason, CancellationToken cancellationToken)
    {
        var frame = CloseFrame(status, reason);
        await _write.WaitAsync(cancellationToken);
        try
        {
            if (_closed)
            {
                return;
            }

            if (AtBoundary)
            {
                await SendCloseAsync(frame, cancellationToken);
            }
            else
            {
                _pendingClose = frame; // the write that finishes the current frame sends it
            }
        }
        finally
        {
            _write.Release();
        }
    }

    private bool AtBoundary => _headerLength == 0 && _payloadLeft == 0;

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _write.WaitAsync(cancellationToken);
        try
        {
            if (_closed)
            {
                return; // after our close frame nothing more may reach the client
            }

            var boundary = Advance(buffer.Span, stopAtBoundary: _pendingClose is not null);
            await inner.WriteAsync(buffer[..boundary], cancellationToken);
            if (_pendingClose is { } frame && AtBoundary)
            {
                await SendCloseAsync(frame, cancellationToken);
            }
        }
        finally
        {
            _write.Release();
        }
    }

    private async Task SendCloseAsync(byte[] frame, CancellationToken cancellationToken)
    {
        _closed = true;
        _pendingClose = null;
        await inner.WriteAsync(frame, cancellationToken);
        await inner.FlushAsync(cancellationToken);
    }

    // Follows frame headers and payload lengths over `data`; returns how many bytes belong before the next boundary
    // (all of them unless stopAtBoundary and a frame ends inside `data`).
    private int Advance(ReadOnlySpan<byte> data, bool stopAtBoundary)
    {
        var i = 0;
        while (i < data.Length)
        {
            if (_payloadLeft > 0)
            {
                var take = (int)Math.Min(_payloadLeft, data.Length - i);
                _payloadLeft -= take;
                i += take;
            }
            else
            {
                _header[_headerLength++] = data[i++];
                if (HeaderComplete(out var payload))
                {
                    (_headerLength, _payloadLeft) = (0, payload);
                }
            }

            if (stopAtBoundary && AtBoundary)
            {
                return i;
            }
        }

        return i;
    }

    private bool HeaderComplete(out long payload)
    {
        payload = 0;
        if (_headerLength < 2)
        {
            return false;
        }

        var length7 = _header[1] & 0x7F;
        var size = 2 + (length7 == 126 ? 2 : length7 == 127 ? 8 : 0) + ((_header[1] & 0x80) != 0 ? 4 : 0);
        if (_headerLength < size)
        {
            return false;
        }

        payload = length7 switch
        {
            126 => BinaryPrimitives.ReadUInt16BigEndian(_header.AsSpan(2)),
            127 => (long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(_header.AsSpan(2)), long.MaxValue),
            _ => length7,
        };
        return true;
    }

    private static byte[] CloseFrame(ushort status, string reason)
    {
        // Server frames are not masked; a control frame's payload is at most 125 bytes.
        var text = Encoding.UTF8.GetBytes(reason);
        var length = Math.Min(text.Length, 123);
        var frame = new byte[4 + length];
        frame[0] = 0x88; // FIN + close
        frame[1] = (byte)(2 + length);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), status);
        text.AsSpan(0, length).CopyTo(frame.AsSpan(4));
        return frame;
    }

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override Task FlushAsync(CancellationToken cancellationToken) => _closed ? Task.CompletedTask : inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

    public override bool CanRead => inner.CanRead;

    public override bool CanSeek => false;

    public override bool CanWrite => inner.CanWrite;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            _write.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync();
        _write.Dispose();
        await base.DisposeAsync();
    }
}
