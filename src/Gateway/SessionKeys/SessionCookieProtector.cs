using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Distributed.Gateway.SessionKeys;

/// <summary>What a valid session cookie says.</summary>
/// <param name="Id">The session id (128 random bits, base64url): the session key.</param>
/// <param name="BackendId">The backend the session was pinned to when the cookie was issued; <c>null</c> in a cookie of the first format.</param>
/// <param name="Generation">That backend's pin generation then.</param>
/// <param name="IssuedAt">When the pin it carries was last confirmed by its session grain.</param>
/// <param name="Current">Signed with the current key in the current format; otherwise the gateway issues it again.</param>
public readonly record struct SessionCookie(string Id, string? BackendId, long Generation, DateTimeOffset IssuedAt, bool Current);

/// <summary>
/// Mints and checks session cookies. A cookie carries the session id, the backend it is pinned to with that backend's
/// pin generation, the time the pin was last confirmed and the id of the signing key, under an HMAC-SHA256 (truncated to
/// 128 bits) over the pool and all of that, with a key every gateway shares. Ids are unguessable, so nobody can join
/// another's session, and everything is tamper-evident, so nobody can pick their own id or backend. Because the cookie
/// names the pin, any gateway, even one with a cold cache that cannot reach the cluster, routes the session where its
/// grain pinned it (as HAProxy's <c>cookie insert</c>); the grain stays the authority for changes.
/// </summary>
/// <remarks>
/// Keys rotate with overlap: the current key signs, previous keys (<c>Balancer:Cookies:PreviousSigningKeys</c>) are
/// accepted for verification only, and a cookie they signed is issued again with the current key. Cookies of the first
/// format (<c>{id}.{mac}</c>, no backend) are still accepted, so sessions survive the upgrade.
/// </remarks>
public sealed class SessionCookieProtector
{
    private const byte Version = 2;
    private const int IdBytes = 16;
    private const int MacBytes = 16;
    private const int KeyIdBytes = 4;
    private const int MaxBackendBytes = 64;
    private const int HeaderBytes = 1 + KeyIdBytes + 8 + IdBytes + 8 + 1; // version, key id, issued, id, generation, length
    private static readonly int EncodedId = Base64Url.GetEncodedLength(IdBytes);
    private static readonly int EncodedMac = Base64Url.GetEncodedLength(MacBytes);
    private static readonly byte[] Domain = "distributed-session-v2\n"u8.ToArray();

    private readonly Key _current;
    private readonly Key[] _keys;

    /// <summary>Creates a protector with the shared HMAC key and the keys it replaced (verification only).</summary>
    public SessionCookieProtector(byte[] key, IEnumerable<byte[]>? previousKeys = null)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfLessThan(key.Length, SigningKeys.MinimumBytes);
        _current = new Key(key);
        _keys = [_current, .. (previousKeys ?? []).Select(k => new Key(k))];
    }

    /// <summary>A new session id.</summary>
    public static string NewId()
    {
        Span<byte> raw = stackalloc byte[IdBytes];
        RandomNumberGenerator.Fill(raw);
        return Base64Url.EncodeToString(raw);
    }

    /// <summary>The cookie value for session <paramref name="id"/> of <paramref name="pool"/>, pinned to <paramref name="backendId"/>.</summary>
    public string Protect(string pool, string id, string backendId, long generation, DateTimeOffset issuedAt)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(backendId);
        var backendLength = Encoding.ASCII.GetByteCount(backendId);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(backendLength, MaxBackendBytes, nameof(backendId));
        Span<byte> payload = stackalloc byte[HeaderBytes + backendLength];
        payload[0] = Version;
        _current.Id.CopyTo(payload[1..]);
        BinaryPrimitives.WriteInt64BigEndian(payload[(1 + KeyIdBytes)..], issuedAt.ToUnixTimeMilliseconds());
        if (!Base64Url.TryDecodeFromChars(id, payload.Slice(1 + KeyIdBytes + 8, IdBytes), out var written) || written != IdBytes)
        {
            throw new ArgumentException("Not a session id minted by NewId.", nameof(id));
        }

        BinaryPrimitives.WriteInt64BigEndian(payload[(HeaderBytes - 9)..], generation);
        payload[HeaderBytes - 1] = (byte)backendLength;
        Encoding.ASCII.GetBytes(backendId, payload[HeaderBytes..]);
        Span<byte> mac = stackalloc byte[MacBytes];
        Mac(_current, pool, payload, mac);
        return string.Concat(Base64Url.EncodeToString(payload), ".", Base64Url.EncodeToString(mac));
    }

    /// <summary>What <paramref name="cookie"/> says, if one of the keys signed it for <paramref name="pool"/>.</summary>
    public bool TryUnprotect(string pool, string? cookie, out SessionCookie value)
    {
        ArgumentNullException.ThrowIfNull(pool);
        value = default;
        var dot = cookie?.IndexOf('.', StringComparison.Ordinal) ?? -1;
        if (cookie is null || dot < 0 || cookie.Length - dot - 1 != EncodedMac)
        {
            return false;
        }

        Span<byte> presented = stackalloc byte[MacBytes];
        if (!TryDecode(cookie.AsSpan(dot + 1), presented))
        {
            return false;
        }

        return dot == EncodedId ? TryUnprotectFirstFormat(pool, cookie[..dot], presented, out value) : TryUnprotectCurrentFormat(pool, cookie.AsSpan(0, dot), presented, out value);
    }

    private bool TryUnprotectCurrentFormat(string pool, ReadOnlySpan<char> encoded, ReadOnlySpan<byte> presented, out SessionCookie value)
    {
        value = default;
        Span<byte> payload = stackalloc byte[HeaderBytes + MaxBackendBytes];
        if (Base64Url.GetMaxDecodedLength(encoded.Length) > payload.Length || !TryDecode(encoded, payload, out var length)
            || length <= HeaderBytes || payload[0] != Version || payload[HeaderBytes - 1] != length - HeaderBytes)
        {
            return false;
        }

        payload = payload[..length];
        var key = FindKey(payload.Slice(1, KeyIdBytes));
        if (key is null)
        {
            return false;
        }

        Span<byte> expected = stackalloc byte[MacBytes];
        Mac(key, pool, payload, expected);
        if (!CryptographicOperations.FixedTimeEquals(presented, expected))
        {
            return false;
        }

        var backend = payload[HeaderBytes..];
        foreach (var b in backend)
        {
            if (b is < (byte)'!' or > (byte)'~')
            {
                return false;
            }
        }

        value = new SessionCookie(
            Base64Url.EncodeToString(payload.Slice(1 + KeyIdBytes + 8, IdBytes)),
            Encoding.ASCII.GetString(backend),
            BinaryPrimitives.ReadInt64BigEndian(payload[(HeaderBytes - 9)..]),
            DateTimeOffset.FromUnixTimeMilliseconds(Math.Clamp(BinaryPrimitives.ReadInt64BigEndian(payload[(1 + KeyIdBytes)..]), 0, DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())),
            Current: ReferenceEquals(key, _current));
        return true;
    }

    // {id}.{mac}, the mac over "{pool}\n{id}": session id only, no key id (every key is tried).
    private bool TryUnprotectFirstFormat(string pool, string id, ReadOnlySpan<byte> presented, out SessionCookie value)
    {
        value = default;
        Span<byte> raw = stackalloc byte[IdBytes];
        if (!TryDecode(id, raw))
        {
            return false;
        }

        var message = Encoding.UTF8.GetBytes(string.Concat(pool, "\n", id));
        Span<byte> full = stackalloc byte[32];
        foreach (var key in _keys)
        {
            HMACSHA256.HashData(key.Secret, message, full);
            if (CryptographicOperations.FixedTimeEquals(presented, full[..MacBytes]))
            {
                value = new SessionCookie(id, BackendId: null, Generation: 0, IssuedAt: DateTimeOffset.MinValue, Current: false);
                return true;
            }
        }

        return false;
    }

    private Key? FindKey(ReadOnlySpan<byte> id)
    {
        foreach (var key in _keys)
        {
            if (id.SequenceEqual(key.Id))
            {
                return key;
            }
        }

        return null;
    }

    private static void Mac(Key key, string pool, ReadOnlySpan<byte> payload, Span<byte> destination)
    {
        var poolBytes = Encoding.UTF8.GetByteCount(pool);
        Span<byte> message = stackalloc byte[Domain.Length + poolBytes + 1 + payload.Length];
        Domain.CopyTo(message);
        Encoding.UTF8.GetBytes(pool, message[Domain.Length..]);
        message[Domain.Length + poolBytes] = (byte)'\n';
        payload.CopyTo(message[(Domain.Length + poolBytes + 1)..]);
        Span<byte> full = stackalloc byte[32];
        HMACSHA256.HashData(key.Secret, message, full);
        full[..MacBytes].CopyTo(destination);
    }

    private static bool TryDecode(ReadOnlySpan<char> encoded, Span<byte> destination) =>
        TryDecode(encoded, destination, out var written) && written == destination.Length;

    // Base64Url.TryDecodeFromChars throws, rather than returning false, on a final character whose unused bits are
    // set, which is exactly what a client flipping the last character sends.
    private static bool TryDecode(ReadOnlySpan<char> encoded, Span<byte> destination, out int written)
    {
        written = 0;
        try
        {
            return Base64Url.TryDecodeFromChars(encoded, destination, out written);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    // A signing key and its id: the first bytes of its SHA-256, so keys need no configured ids.
    private sealed class Key(byte[] secret)
    {
        public byte[] Secret { get; } = secret;

        public byte[] Id { get; } = SHA256.HashData(secret)[..KeyIdBytes];
    }
}
