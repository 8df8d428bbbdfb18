using System.Buffers.Binary;
using System.Net.WebSockets;
using System.Text;

namespace Distributed.Gateway.WebSockets;

/// <summary>
/// The client side of a proxied WebSocket as YARP sees it, after an HTTP/1.1 upgrade or an HTTP/2 extended CONNECT
/// alike. Bytes pass through both ways untouched until the gateway closes it (<see cref="CloseAsync"/>): then the
/// client gets a close frame between two of the backend's frames (a <see cref="WebSocketFrameCursor"/> follows the
/// backend-to-client frames; payloads are never read), and what the backend sends after it is dropped, since no data
/// may follow a close (RFC 6455 §5.5.1). The client's answering close passes on to the backend, which then ends the
/// connection from its side.
/// </summary>
internal sealed class WebSocketCloseStream(Stream inner) : Stream
{
    private const int MaxReasonBytes = 123; // a control frame's payload is at most 125 bytes, 2 of them the status

    private readonly WebSocketFrameCursor _toClient = new();
    private readonly SemaphoreSlim _write = new(1, 1);
    private byte[]? _pendingClose;
    private volatile bool _closed;

    /// <summary>Whether the gateway's close frame has been sent (the backend's bytes are dropped since).</summary>
    public bool Closed => _closed;

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>
    /// Sends a close frame with <paramref name="status"/> and <paramref name="reason"/> at the next frame boundary: now
    /// when the stream is between frames, else from the write that ends the frame under way. Only the first close
    /// asked for is sent. <paramref name="cancellationToken"/> bounds the wait for a write under way (a client that
    /// stops reading holds it); the close stays due and the next frame boundary still sends it.
    /// </summary>
    public async Task CloseAsync(WebSocketCloseStatus status, string reason, CancellationToken cancellationToken)
    {
        Interlocked.CompareExchange(ref _pendingClose, CloseFrame(status, reason), null);
        await _write.WaitAsync(cancellationToken);
        try
        {
            if (!_closed && _toClient.AtBoundary)
            {
                await SendCloseAsync(cancellationToken);
            }
        }
        finally
        {
            _write.Release();
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _write.WaitAsync(cancellationToken);
        try
        {
            if (_closed)
            {
                return;
            }

            // With a close due, only the rest of the frame under way goes before it; otherwise all of the buffer.
            var send = buffer;
            if (Volatile.Read(ref _pendingClose) is not null)
            {
                send = _toClient.AtBoundary ? ReadOnlyMemory<byte>.Empty : buffer[.._toClient.Advance(buffer.Span)];
            }
            else
            {
                for (var span = buffer.Span; !span.IsEmpty;)
                {
                    span = span[_toClient.Advance(span)..];
                }
            }

            if (!send.IsEmpty)
            {
                await inner.WriteAsync(send, cancellationToken);
            }

            // A close asked for while this write ran goes now if the write ended on a frame boundary.
            if (Volatile.Read(ref _pendingClose) is not null && _toClient.AtBoundary)
            {
                await SendCloseAsync(cancellationToken);
            }
        }
        finally
        {
            _write.Release();
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException("Upgraded connections are written asynchronously.");

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override Task FlushAsync(CancellationToken cancellationToken) => _closed ? Task.CompletedTask : inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

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

    private async Task SendCloseAsync(CancellationToken cancellationToken)
    {
        _closed = true;
        await inner.WriteAsync(_pendingClose, cancellationToken);
        await inner.FlushAsync(cancellationToken);
    }

    // FIN + opcode 8 (close), unmasked as a server's frames are, with the status code and reason as payload.
    private static byte[] CloseFrame(WebSocketCloseStatus status, string reason)
    {
        var length = Encoding.UTF8.GetByteCount(reason);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, MaxReasonBytes, nameof(reason));
        var frame = new byte[4 + length];
        frame[0] = 0x88;
        frame[1] = (byte)(2 + length);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)status);
        Encoding.UTF8.GetBytes(reason, frame.AsSpan(4));
        return frame;
    }
}
