using System.Security.Cryptography;
using Distributed.Gateway.SessionKeys;

namespace Distributed.Gateway.Tests.SessionKeys;

[Trait("Category", "Unit")]
public sealed class SessionCookieProtectorTests
{
    private static readonly DateTimeOffset Issued = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
    private readonly SessionCookieProtector _protector = new(RandomNumberGenerator.GetBytes(32));

    private (string Id, string Cookie) Mint(string pool = "web", string backend = "b2", SessionCookieProtector? protector = null)
    {
        var id = SessionCookieProtector.NewId();
        return (id, (protector ?? _protector).Protect(pool, id, backend, generation: 1_764_583_200_123, Issued));
    }

    [Fact]
    public void TryUnprotect_IssuedCookie_GivesBackIdPinAndIssueTime()
    {
        var (id, cookie) = Mint(backend: "backend-with.a_long-id-0123456789");

        Assert.True(_protector.TryUnprotect("web", cookie, out var value));
        Assert.Equal(new SessionCookie(id, "backend-with.a_long-id-0123456789", 1_764_583_200_123, Issued, Current: true), value);
        Assert.True(cookie.Length < 150, $"A cookie of {cookie.Length} characters.");
    }

    [Fact]
    public void TryUnprotect_CookieOfAPreviousKey_IsAcceptedButNotCurrentAndAnUnknownKeyIsRejected()
    {
        var old = RandomNumberGenerator.GetBytes(32);
        var (id, cookie) = Mint(protector: new SessionCookieProtector(old));
        var rotated = new SessionCookieProtector(RandomNumberGenerator.GetBytes(32), [old]);

        Assert.True(rotated.TryUnprotect("web", cookie, out var value));
        Assert.Equal((id, "b2", false), (value.Id, value.BackendId, value.Current));
        Assert.False(new SessionCookieProtector(RandomNumberGenerator.GetBytes(32)).TryUnprotect("web", cookie, out _));
    }

    [Fact]
    public void TryUnprotect_CookieOfTheFirstFormat_IsAcceptedWithoutAPinSoSessionsSurviveTheUpgrade()
    {
        // {id}.{mac}: the format before cookies named their pin (HMAC-SHA256 over "{pool}\n{id}", 128 bits).
        var key = RandomNumberGenerator.GetBytes(32);
        var id = SessionCookieProtector.NewId();
        var mac = System.Buffers.Text.Base64Url.EncodeToString(HMACSHA256.HashData(key, System.Text.Encoding.UTF8.GetBytes($"web\n{id}")).AsSpan(0, 16));
        var protector = new SessionCookieProtector(key);

        Assert.True(protector.TryUnprotect("web", $"{id}.{mac}", out var value));
        Assert.Equal((id, (string?)null, false), (value.Id, value.BackendId, value.Current));
        Assert.False(protector.TryUnprotect("api", $"{id}.{mac}", out _));
    }

    [Fact]
    public void TryUnprotect_OneCharacterChangedAnywhere_IsRejected()
    {
        // Every field is covered: version, key id, issue time, id, generation, backend and the MAC itself.
        var (_, cookie) = Mint();
        for (var position = 0; position < cookie.Length; position++)
        {
            foreach (var replacement in "AB")
            {
                var chars = cookie.ToCharArray();
                if (chars[position] != replacement)
                {
                    chars[position] = replacement;
                    Assert.False(_protector.TryUnprotect("web", new string(chars), out _), $"changed at {position}");
                }
            }
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(21)]
    [InlineData(23)]
    [InlineData(40)]
    [InlineData(44)]
    public void TryUnprotect_OneCharacterChanged_IsRejected(int position)
    {
        var (_, cookie) = Mint();
        var chars = cookie.ToCharArray();
        chars[position] = chars[position] == 'A' ? 'B' : 'A';

        Assert.False(_protector.TryUnprotect("web", new string(chars), out _));
    }

    [Fact]
    public void TryUnprotect_LastCharacterChanged_IsRejectedWithoutThrowing()
    {
        // The last base64url character of the MAC carries unused bits; .NET's decoder throws on some of them.
        for (var i = 0; i < 500; i++)
        {
            var (_, cookie) = Mint();
            foreach (var replacement in "ABgh-_")
            {
                if (cookie[^1] != replacement)
                {
                    Assert.False(_protector.TryUnprotect("web", cookie[..^1] + replacement, out _));
                }
            }
        }
    }

    [Fact]
    public void TryUnprotect_CookieOfAnotherPoolOrKey_IsRejected()
    {
        var (_, cookie) = Mint();
        var other = new SessionCookieProtector(RandomNumberGenerator.GetBytes(32));

        Assert.False(_protector.TryUnprotect("api", cookie, out _));
        Assert.False(other.TryUnprotect("web", cookie, out _));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("not-a-cookie.at-all-but-the-right-length-maybe")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAA-AAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("ü\u0000AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAA*")]
    public void TryUnprotect_Garbage_IsRejected(string? cookie) =>
        Assert.False(_protector.TryUnprotect("web", cookie, out _));

    [Fact]
    public void NewId_ManyTimes_IdsAreDistinct()
    {
        var ids = Enumerable.Range(0, 1_000).Select(_ => SessionCookieProtector.NewId()).ToHashSet();
        Assert.Equal(1_000, ids.Count);
    }

    [Fact]
    public void Protect_BackendIdTooLongOrNotAMintedId_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _protector.Protect("web", SessionCookieProtector.NewId(), new string('b', 65), 0, Issued));
        Assert.Throws<ArgumentException>(() => _protector.Protect("web", "chosen-by-client", "b1", 0, Issued));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("not base64!")]
    [InlineData("c2hvcnQ=")]
    public void SigningKeysTryDecode_InvalidOrShortKeys_AreRejected(string? key) =>
        Assert.False(SigningKeys.TryDecode(key, out _));

    [Fact]
    public void SigningKeysTryDecode_ThirtyTwoBytes_IsAccepted()
    {
        Assert.True(SigningKeys.TryDecode(Convert.ToBase64String(new byte[32]), out var key));
        Assert.Equal(32, key.Length);
    }
}
