using Distributed.ServiceDefaults;

namespace Distributed.Gateway.Tests.Configuration;

[Trait("Category", "Unit")]
public sealed class SecretStrengthTests
{
    [Theory]
    [InlineData("0123456789abcdef0123456789abcdef")] // openssl rand -hex 16: 128 bits
    [InlineData("AAECAwQFBgcICQoLDA0ODw==")] // openssl rand -base64 16: 128 bits
    [InlineData("q7Zx3Rk9Lm2Pw8Ys5Vb1Nc")] // 22 base64 characters
    public void KeysOf128BitsOrMore_AreAccepted(string key) => Assert.Null(SecretStrength.Problem("Balancer:Admin:ApiKey", key));

    [Theory]
    [InlineData("0123456789abcdef0123456789abcde")] // 31 hex characters: 124 bits
    [InlineData("q7Zx3Rk9Lm2Pw8Ys5Vb1N")] // 21 characters: 126 bits
    [InlineData("secret")]
    [InlineData("x")]
    public void ShorterKeys_AreRefusedNamingTheKey(string key)
    {
        var problem = SecretStrength.Problem("Balancer:Admin:ApiKey", key);
        Assert.NotNull(problem);
        Assert.StartsWith("Balancer:Admin:ApiKey is too short", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("change-me-admin-api-key")]
    [InlineData("CHANGE-ME-but-long-enough-to-pass-any-length-rule-0123456789")]
    [InlineData("redis:6379,password=change-me-redis-password")]
    public void ManifestPlaceholders_AreRefusedWhateverTheirLength(string key)
    {
        Assert.True(SecretStrength.IsPlaceholder(key));
        Assert.Contains("placeholder", SecretStrength.Problem("Orleans:Dashboard:Password", key), StringComparison.Ordinal);
    }
}
