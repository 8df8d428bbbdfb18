using Distributed.Gateway.SessionKeys;

namespace Distributed.Gateway.Tests.SessionKeys;

[Trait("Category", "Unit")]
public sealed class ClaimAuthenticationOptionsValidatorTests
{
    private static readonly string Key = Convert.ToBase64String(new byte[32]);

    private static IEnumerable<string> Errors(ClaimAuthenticationOptions options) =>
        new ClaimAuthenticationOptionsValidator().Validate(null, options).Failures ?? [];

    [Fact]
    public void Validate_NothingConfigured_IsFine() => Assert.Empty(Errors(new ClaimAuthenticationOptions()));

    [Fact]
    public void Validate_SigningKeyWithIssuerAndAudience_OrAnHttpsAuthorityWithAudience_IsAccepted()
    {
        Assert.Empty(Errors(new ClaimAuthenticationOptions { SigningKey = Key, Issuer = "https://issuer", Audience = "web" }));
        Assert.Empty(Errors(new ClaimAuthenticationOptions { Authority = "https://login.example.com/tenant", Audience = "web" }));
    }

    [Theory]
    [InlineData(null, "https://issuer", "web", "c2hvcnQ=", "at least 32 bytes")]
    [InlineData(null, "https://issuer", "web", "change-me-jwt-signing-key", "placeholder")]
    [InlineData(null, null, "web", "KEY", "Issuer must be set")]
    [InlineData(null, "https://issuer", null, "KEY", "Audience must be set")]
    [InlineData("http://login.example.com", null, "web", null, "https URL")]
    [InlineData("https://login.example.com", null, "web", "KEY", "not both")]
    public void Validate_IncompleteOrUnsafeSettings_AreRefusedNamingTheSection(string? authority, string? issuer, string? audience, string? signingKey, string expected)
    {
        var options = new ClaimAuthenticationOptions { Authority = authority, Issuer = issuer, Audience = audience, SigningKey = signingKey == "KEY" ? Key : signingKey };
        Assert.Contains(Errors(options), e => e.Contains(expected, StringComparison.Ordinal) && e.StartsWith("Balancer:Authentication", StringComparison.Ordinal));
    }
}
