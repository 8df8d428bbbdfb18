using Distributed.Gateway.SessionKeys;

namespace Distributed.Gateway.Tests.SessionKeys;

[Trait("Category", "Unit")]
public sealed class ClaimAuthenticationOptionsTests
{
    private static readonly string Key = Convert.ToBase64String(new byte[32]);

    [Fact]
    public void ClaimPoolWithoutAuthentication_IsRefusedNamingThePool()
    {
        var errors = new ClaimAuthenticationOptions().Validate(["users"]);
        var error = Assert.Single(errors);
        Assert.Contains("Balancer:Pools:users:SessionKey", error, StringComparison.Ordinal);
        Assert.Contains("Balancer:Authentication", error, StringComparison.Ordinal);
    }

    [Fact]
    public void NoClaimPoolAndNoAuthentication_IsFine() => Assert.Empty(new ClaimAuthenticationOptions().Validate([]));

    [Fact]
    public void SigningKeyWithIssuerAndAudience_OrAnHttpsAuthorityWithAudience_IsAccepted()
    {
        Assert.Empty(new ClaimAuthenticationOptions { SigningKey = Key, Issuer = "https://issuer", Audience = "web" }.Validate(["users"]));
        Assert.Empty(new ClaimAuthenticationOptions { Authority = "https://login.example.com/tenant", Audience = "web" }.Validate(["users"]));
    }

    [Theory]
    [InlineData(null, "https://issuer", "web", "c2hvcnQ=", "at least 32 bytes")]
    [InlineData(null, "https://issuer", "web", "change-me-jwt-signing-key", "placeholder")]
    [InlineData(null, null, "web", "KEY", "Issuer must be set")]
    [InlineData(null, "https://issuer", null, "KEY", "Audience must be set")]
    [InlineData("http://login.example.com", null, "web", null, "https URL")]
    [InlineData("https://login.example.com", null, "web", "KEY", "not both")]
    public void IncompleteOrUnsafeSettings_AreRefused(string? authority, string? issuer, string? audience, string? signingKey, string expected)
    {
        var options = new ClaimAuthenticationOptions { Authority = authority, Issuer = issuer, Audience = audience, SigningKey = signingKey == "KEY" ? Key : signingKey };
        Assert.Contains(options.Validate(["users"]), e => e.Contains(expected, StringComparison.Ordinal));
    }
}
