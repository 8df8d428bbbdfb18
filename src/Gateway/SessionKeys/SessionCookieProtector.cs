using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;

namespace Distributed.Gateway.SessionKeys;

/// <summary>
/// Mints and checks session cookies <c>{id}.{mac}</c>: <c>id</c> is 128 random bits, <c>mac</c> an HMAC-SHA256 (truncated
/// to 128 bits) over pool and id with a key every gateway shares. Ids are unguessable, so nobody can join another's
/// session, and tamper-evident, so nobody can pick their own id.
/// </summary>
public sealed class SessionCookieProtector
{
    private const int IdBytes = 16;
    private const int MacBytes = 16;
    private static readonly int EncodedId = Base64Url.GetEncodedLength(IdBytes);
    private static readonly int EncodedMac = Base64Url.GetEncodedLength(MacBytes);

    private readonly byte[] _key;

    /// <summary>Creates a protector with the shared HMAC key.</summary>
    public SessionCookieProtector(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfLessThan(key.Length, 32);
        _key = key;
    }

    /// <summary>Decodes a configured base64 key of at least 32 bytes.</summary>
    public static bool TryDecodeKey(string? base64, [NotNullWhen(true)] out byte[]? key)
    {
        key = null;
        if (string.IsNullOrWhiteSpace(base64))
        {
            return false;
        }

        try
        {
            key = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            return false;
        }

        return key.Length >= 32;
    }

    /// <summary>A new session id and the cookie value that carries it.</summary>
    public (string Id, string Cookie) Mint(string pool)
    {
        Span<byte> raw = stackalloc byte[IdBytes];
        RandomNumberGenerator.Fill(raw);
        var id = Base64Url.EncodeToString(raw);
        return (id, string.Concat(id, ".", Base64Url.EncodeToString(Mac(pool, id))));
    }

    /// <summary>The session id in <paramref name="cookie"/> if it was minted with this key for <paramref name="pool"/>.</summary>
    public bool TryUnprotect(string pool, string? cookie, [NotNullWhen(true)] out string? id)
    {
        id = null;
        if (cookie is null || cookie.Length != EncodedId + 1 + EncodedMac || cookie[EncodedId] != '.')
        {
            return false;
        }

        var candidate = cookie[..EncodedId];
        Span<byte> presented = stackalloc byte[MacBytes];
        if (!TryDecode(cookie.AsSpan(EncodedId + 1), presented))
        {
            return false;
        }

        if (!CryptographicOperations.FixedTimeEquals(presented, Mac(pool, candidate)))
        {
            return false;
        }

        id = candidate;
        return true;
    }

    // Base64Url.TryDecodeFromChars throws, rather than returning false, on a final character whose unused bits are
    // set, which is exactly what a client flipping the last character sends.
    private static bool TryDecode(ReadOnlySpan<char> encoded, Span<byte> destination)
    {
        try
        {
            return Base64Url.TryDecodeFromChars(encoded, destination, out var written) && written == destination.Length;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private byte[] Mac(string pool, string id)
    {
        var full = HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(string.Concat(pool, "\n", id)));
        return full[..MacBytes];
    }
}
