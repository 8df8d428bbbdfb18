using System.Buffers.Binary;

namespace Distributed.Gateway.WebSockets;

/// <summary>
/// Follows the frames (RFC 6455 §5.2) of one direction of a WebSocket byte stream, whatever the chunking, so a control
/// frame can be put between two frames. Only headers are read: payloads, masks and extensions pass untouched.
/// </summary>
internal sealed class WebSocketFrameCursor
{
    private const int MaxHeaderLength = 14; // 2 + 8 (64-bit length) + 4 (mask)
    private readonly byte[] _header = new byte[MaxHeaderLength];
    private int _headerRead;
    private ulong _payloadLeft;

    /// <summary>True between two frames (and before the first).</summary>
    public bool AtBoundary => _headerRead == 0 && _payloadLeft == 0;

    /// <summary>
    /// Consumes <paramref name="data"/> up to the end of the current frame, or all of it if the frame goes on; returns
    /// how many bytes belong to the current frame.
    /// </summary>
    public int Advance(ReadOnlySpan<byte> data)
    {
        var consumed = 0;
        while (consumed < data.Length)
        {
            if (_payloadLeft > 0)
            {
                var take = (int)Math.Min(_payloadLeft, (ulong)(data.Length - consumed));
                _payloadLeft -= (ulong)take;
                consumed += take;
                if (_payloadLeft == 0)
                {
                    return consumed;
                }

                continue;
            }

            _header[_headerRead++] = data[consumed++];
            if (_headerRead == HeaderLength())
            {
                _payloadLeft = PayloadLength();
                _headerRead = 0;
                if (_payloadLeft == 0)
                {
                    return consumed;
                }
            }
        }

        return consumed;
    }

    // 2 bytes until the second byte is known; then those, the extended length and the masking key.
    private int HeaderLength()
    {
        if (_headerRead < 2)
        {
            return 2;
        }

        var length = _header[1] & 0x7F;
        var masked = (_header[1] & 0x80) != 0;
        return 2 + (length switch { 126 => 2, 127 => 8, _ => 0 }) + (masked ? 4 : 0);
    }

    private ulong PayloadLength() => (_header[1] & 0x7F) switch
    {
        126 => BinaryPrimitives.ReadUInt16BigEndian(_header.AsSpan(2)),
        127 => BinaryPrimitives.ReadUInt64BigEndian(_header.AsSpan(2)) & long.MaxValue, // the top bit must be 0
        var length => (ulong)length,
    };
}
