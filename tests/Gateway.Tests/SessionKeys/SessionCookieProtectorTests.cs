using System.Security.Cryptography;
using Distributed.Gateway.SessionKeys;

namespace Distributed.Gateway.Tests.SessionKeys;

[Trait("Category", "Unit")]
public sealed class SessionCookieProtectorTests
{
    private readonly SessionCookieProtector _protector = new(RandomNumberGenerator.GetBytes(32));

    [Fact]
    public void TryUnprotect_MintedCookie_GivesBackItsId()
    {
        var (id, cookie) = _protector.Mint("web");

        Assert.True(_protector.TryUnprotect("web", cookie, out var unprotected));
        Assert.Equal(id, unprotected);
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
        var (_, cookie) = _protector.Mint("web");
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
            var (_, cookie) = _protector.Mint("web");
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
        var (_, cookie) = _protector.Mint("web");
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
    public void Mint_ManyTimes_IdsAreDistinct()
    {
        var ids = Enumerable.Range(0, 1_000).Select(_ => _protector.Mint("web").Id).ToHashSet();
        Assert.Equal(1_000, ids.Count);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("not base64!")]
    [InlineData("c2hvcnQ=")]
    public void TryDecodeKey_InvalidOrShortKeys_AreRejected(string? key) =>
        Assert.False(SessionCookieProtector.TryDecodeKey(key, out _));

    [Fact]
    public void TryDecodeKey_ThirtyTwoBytes_IsAccepted()
    {
        Assert.True(SessionCookieProtector.TryDecodeKey(Convert.ToBase64String(new byte[32]), out var key));
        Assert.Equal(32, key.Length);
    }
}
