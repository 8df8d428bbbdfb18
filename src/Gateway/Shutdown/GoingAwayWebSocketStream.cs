using System.Text;
using Microsoft.AspNetCore.Http.Features;

namespace Distributed.Gateway.Shutdown;

/// <summary>
/// The client side of a proxied WebSocket (what YARP copies to and from after the upgrade). Bytes pass through both
/// ways untouched until the gateway closes (<see cref="GracefulShutdown.Closing"/>): then the client gets a Close frame
/// with status 1001 (going away) between two of the backend's frames, and what the backend sends after it is dropped,
/// since no data may follow a Close (RFC 6455 §5.5.1). The client's answering Close passes on to the backend, which then
/// ends the connection from its side; a client or backend that never answers is cut off at the host's shutdown timeout.
/// </summary>
internal sealed class GoingAwayWebSocketStream : Stream
{
    /// <summary>Status code 1001: the endpoint is going away (a server going down).</summary>
    public const int GoingAway = 1001;

    /// <summary>The reason sent with the Close frame.</summary>
    public const string Reason = "gateway shutting down";

    // FIN + opcode 8 (Close), unmasked as frames from a server are, with the status code and reason as payload.
    private static readonly byte[] CloseFrame = [0x88, (byte)(2 + Encoding.UTF8.GetByteCount(Reason)), GoingAway >> 8, GoingAway & 0xFF, .. Encoding.UTF8.GetBytes(Reason)];

    private readonly Stream _client;
    private readonly CancellationToken _closing;
    private readonly WebSocketFrameCursor _toClient = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly CancellationTokenRegistration _registration;
    private bool _closeSent;

    public GoingAwayWebSocketStream(Stream client, CancellationToken closing)
    {
        _client = client;
        _closing = closing;
        _registration = closing.Register(static state => _ = ((GoingAwayWebSocketStream)state!).CloseBetweenFramesAsync(), this);
    }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => _client.Read(buffer, offset, count);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _client.ReadAsync(buffer, offset, count, cancellationToken);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _client.ReadAsync(buffer, cancellationToken);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            if (_closeSent)
            {
                return;
            }

            if (!_closing.IsCancellationRequested)
            {
                for (var span = buffer.Span; !span.IsEmpty;)
                {
                    span = span[_toClient.Advance(span)..];
                }

                await _client.WriteAsync(buffer, cancellationToken);
                return;
            }

            // Closing: finish the frame under way, then say goodbye; the rest of the buffer is not sent.
            if (!_toClient.AtBoundary)
            {
                await _client.WriteAsync(buffer[.._toClient.Advance(buffer.Span)], cancellationToken);
            }

            if (_toClient.AtBoundary)
            {
                await SendCloseAsync(cancellationToken);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public override void Write(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException("Upgraded connections are written asynchronously.");

    public override void Flush() => _client.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => _client.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _registration.Dispose();
            _client.Dispose();
            _writeLock.Dispose();
        }

        base.Dispose(disposing);
    }

    // When the gateway closes between two frames (the usual case: nothing is being written), the Close goes now;
    // otherwise the write under way sends it at the end of its frame.
    private async Task CloseBetweenFramesAsync()
    {
        try
        {
            await _writeLock.WaitAsync();
            try
            {
                if (!_closeSent && _toClient.AtBoundary)
                {
                    await SendCloseAsync(CancellationToken.None);
                }
            }
            finally
            {
                _writeLock.Release();
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            // The client is gone already, or the connection ended meanwhile: nothing to say goodbye to.
        }
    }

    private async Task SendCloseAsync(CancellationToken cancellationToken)
    {
        _closeSent = true;
        await _client.WriteAsync(CloseFrame, cancellationToken);
        await _client.FlushAsync(cancellationToken);
    }
}

/// <summary>Hands YARP a <see cref="GoingAwayWebSocketStream"/> for an HTTP/1.1 WebSocket upgrade.</summary>
internal sealed class GoingAwayUpgradeFeature(IHttpUpgradeFeature inner, CancellationToken closing) : IHttpUpgradeFeature
{
    public bool IsUpgradableRequest => inner.IsUpgradableRequest;

    public async Task<Stream> UpgradeAsync() => new GoingAwayWebSocketStream(await inner.UpgradeAsync(), closing);
}

/// <summary>Hands YARP a <see cref="GoingAwayWebSocketStream"/> for a WebSocket over HTTP/2 (extended CONNECT, RFC 8441).</summary>
internal sealed class GoingAwayExtendedConnectFeature(IHttpExtendedConnectFeature inner, CancellationToken closing) : IHttpExtendedConnectFeature
{
    public bool IsExtendedConnect => inner.IsExtendedConnect;

    public string? Protocol => inner.Protocol;

    public async ValueTask<Stream> AcceptAsync() => new GoingAwayWebSocketStream(await inner.AcceptAsync(), closing);
}
