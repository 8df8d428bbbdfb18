using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using Distributed.Gateway.SessionKeys;
using Microsoft.AspNetCore.Http;

namespace Distributed.Gateway.Tests.SessionKeys;

[Trait("Category", "Unit")]
public sealed class SessionKeySourceTests
{
    private static readonly SessionCookieProtector Protector = new(RandomNumberGenerator.GetBytes(32));

    [Theory]
    [InlineData("Header:X-Session-Id", SessionKeyKind.Header, "X-Session-Id")]
    [InlineData("header:x-user", SessionKeyKind.Header, "x-user")]
    [InlineData("Cookie:dist_session", SessionKeyKind.Cookie, "dist_session")]
    [InlineData("Claim:http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier", SessionKeyKind.Claim, "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier")]
    [InlineData("ClientIp", SessionKeyKind.ClientIp, null)]
    [InlineData("", SessionKeyKind.None, null)]
    [InlineData(null, SessionKeyKind.None, null)]
    public void TryParse_ValidSettings_AreParsed(string? setting, SessionKeyKind kind, string? name)
    {
        Assert.True(SessionKeySourceFactory.TryParse(setting, out var spec, out var error), error);
        Assert.Equal(new SessionKeySpec(kind, name), spec);
    }

    [Theory]
    [InlineData("Header:")]
    [InlineData("Foo:bar")]
    [InlineData("Header:bad name")]
    [InlineData("Cookie:a;b")]
    [InlineData("ClientIp:x")]
    [InlineData("X-Session-Id")]
    public void TryParse_InvalidSettings_ExplainWhy(string setting)
    {
        Assert.False(SessionKeySourceFactory.TryParse(setting, out _, out var error));
        Assert.False(string.IsNullOrWhiteSpace(error));
    }

    [Fact]
    public void HeaderSource_NoHeader_IsKeyless()
    {
        var result = new HeaderSessionKeySource("X-Session-Id", 16).GetKey(new DefaultHttpContext());
        Assert.Null(result.Key);
        Assert.Null(result.Error);
    }

    [Fact]
    public void HeaderSource_ValidHeader_IsTheKey()
    {
        var context = new DefaultHttpContext();
        context.Request.Headers["X-Session-Id"] = "alice-42";

        var result = new HeaderSessionKeySource("X-Session-Id", 16).GetKey(context);

        Assert.Equal("alice-42", result.Key);
        Assert.False(result.IsNew);
        Assert.Null(result.Error);
    }

    [Theory]
    [InlineData("this-key-is-far-too-long")]
    [InlineData("with space")]
    [InlineData("tab\there")]
    [InlineData("nul\u0000")]
    [InlineData("ünïcödé")]
    public void HeaderSource_InvalidValue_IsRefusedWithAReason(string value)
    {
        var context = new DefaultHttpContext();
        context.Request.Headers["X-Session-Id"] = value;

        var result = new HeaderSessionKeySource("X-Session-Id", 16).GetKey(context);

        Assert.Null(result.Key);
        Assert.Contains("X-Session-Id", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void HeaderSource_TwoHeaders_IsRefused()
    {
        var context = new DefaultHttpContext();
        context.Request.Headers["X-Session-Id"] = new[] { "a", "b" };

        Assert.NotNull(new HeaderSessionKeySource("X-Session-Id", 16).GetKey(context).Error);
    }

    [Fact]
    public void ClaimSource_AuthenticatedUser_IsKeyedByTheClaim()
    {
        var context = new DefaultHttpContext { User = new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", "user-7")], "test")) };
        Assert.Equal("user-7", new ClaimSessionKeySource("sub", 64).GetKey(context).Key);
        Assert.Null(new ClaimSessionKeySource("sub", 64).GetKey(new DefaultHttpContext()).Key);
    }

    [Fact]
    public void ClientIpSource_MappedAddress_IsKeyedByTheIPv4Form()
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse("::ffff:10.1.2.3");
        Assert.Equal("10.1.2.3", new ClientIpSessionKeySource().GetKey(context).Key);
    }

    private static readonly DateTimeOffset Issued = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);

    private static CookieSessionKeySource Cookies(SameSiteMode sameSite = SameSiteMode.Lax) => new("dist_session", "web", Protector, sameSite, renewAfter: TimeSpan.FromMinutes(5));

    private static (string Id, string Cookie) Issue(string backend = "b1", long generation = 7) =>
        Issue(SessionCookieProtector.NewId(), backend, generation);

    private static (string Id, string Cookie) Issue(string id, string backend, long generation) =>
        (id, Protector.Protect("web", id, backend, generation, Issued));

    [Fact]
    public void CookieSource_NoCookie_MintsASessionAndIssuesAHardenedCookieNamingItsPin()
    {
        var context = new DefaultHttpContext();
        var source = Cookies();

        var result = source.GetKey(context);
        Assert.True(result.IsNew);
        Assert.NotNull(result.Key);
        Assert.Equal(0, context.Response.Headers.SetCookie.Count); // issued once the pin is known
        source.OnRouted(context, result, new PinHint("b3", 9, Issued));

        var setCookie = context.Response.Headers.SetCookie.ToString();
        Assert.StartsWith("dist_session=", setCookie, StringComparison.Ordinal);
        Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("secure", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.True(Protector.TryUnprotect("web", setCookie["dist_session=".Length..].Split(';')[0], out var issued));
        Assert.Equal((result.Key, "b3", 9L), (issued.Id, issued.BackendId, issued.Generation));
    }

    [Fact]
    public void CookieSource_ValidCookie_IsTheSessionWithItsPinAndNoNewCookieWhileThePinIsUnchanged()
    {
        var (id, cookie) = Issue();
        var context = new DefaultHttpContext();
        context.Request.Headers.Cookie = $"dist_session={cookie}";
        var source = Cookies();

        var result = source.GetKey(context);
        source.OnRouted(context, result, new PinHint("b1", 7, Issued + TimeSpan.FromMinutes(4)));

        Assert.Equal(id, result.Key);
        Assert.False(result.IsNew);
        Assert.Equal(new PinHint("b1", 7, Issued), result.Hint);
        Assert.Equal(0, context.Response.Headers.SetCookie.Count);
    }

    [Theory]
    [InlineData("b2", 7, 0)] // moved to another backend
    [InlineData("b1", 8, 0)] // same backend, new generation (it flapped)
    [InlineData("b1", 7, 6)] // confirmed well after the cookie was issued
    public void CookieSource_PinMovedOrConfirmedSince_IssuesTheCookieAgainForTheSameSession(string backend, long generation, int minutesLater)
    {
        var (id, cookie) = Issue();
        var context = new DefaultHttpContext();
        context.Request.Headers.Cookie = $"dist_session={cookie}";
        var source = Cookies();

        var result = source.GetKey(context);
        source.OnRouted(context, result, new PinHint(backend, generation, Issued + TimeSpan.FromMinutes(minutesLater)));

        var setCookie = context.Response.Headers.SetCookie.ToString();
        Assert.True(Protector.TryUnprotect("web", setCookie["dist_session=".Length..].Split(';')[0], out var issued));
        Assert.Equal((id, backend, generation), (issued.Id, issued.BackendId, issued.Generation));
    }

    [Fact]
    public void CookieSource_RoutedByAGuess_LeavesTheCookieAlone()
    {
        // A guess may be wrong; writing it into the cookie would make every cold gateway repeat it.
        var (_, cookie) = Issue();
        var context = new DefaultHttpContext();
        context.Request.Headers.Cookie = $"dist_session={cookie}";
        var source = Cookies();

        source.OnRouted(context, source.GetKey(context), pin: null);

        Assert.Equal(0, context.Response.Headers.SetCookie.Count);
    }

    [Fact]
    public void CookieSource_TamperedCookie_GetsAFreshSession()
    {
        var (id, cookie) = Issue();
        var context = new DefaultHttpContext();
        context.Request.Headers.Cookie = $"dist_session={cookie[..^1]}{(cookie[^1] == 'A' ? 'B' : 'A')}";
        context.Request.IsHttps = true;
        var source = Cookies(SameSiteMode.Strict);

        var result = source.GetKey(context);
        source.OnRouted(context, result, new PinHint("b1", 7, Issued));

        Assert.True(result.IsNew);
        Assert.NotEqual(id, result.Key);
        Assert.Contains("secure", context.Response.Headers.SetCookie.ToString(), StringComparison.OrdinalIgnoreCase);
    }
}
