using Distributed.Gateway.Hardening;

namespace Distributed.Gateway.Tests.Hardening;

[Trait("Category", "Unit")]
public sealed class EdgeProtectionOptionsValidatorTests
{
    [Fact]
    public void TrustedProxies_AddressesAndNetworksWithoutHostBits_AreAccepted()
    {
        var options = new TrustedProxiesOptions { KnownProxies = ["10.1.2.3", "fd00::1"], KnownNetworks = ["10.0.0.0/8", "fd00::/8"] };

        Assert.True(new TrustedProxiesOptionsValidator().Validate(null, options).Succeeded);
        Assert.True(options.TrustsProxies);
    }

    [Theory]
    [InlineData("10.0.0.0/8", null, "Balancer:ForwardedHeaders:KnownProxies contains '10.0.0.0/8'")]
    [InlineData("proxy.internal", null, "Balancer:ForwardedHeaders:KnownProxies contains 'proxy.internal'")]
    [InlineData(null, "10.0.0.1/8", "Balancer:ForwardedHeaders:KnownNetworks contains '10.0.0.1/8'")]
    [InlineData(null, "10.0.0.0", "Balancer:ForwardedHeaders:KnownNetworks contains '10.0.0.0'")]
    public void TrustedProxies_ANetworkAsAProxyOrAHostAsANetwork_IsRefusedNamingIt(string? proxy, string? network, string expected)
    {
        var options = new TrustedProxiesOptions { KnownProxies = proxy is null ? [] : [proxy], KnownNetworks = network is null ? [] : [network] };

        var failure = Assert.Single(new TrustedProxiesOptionsValidator().Validate(null, options).Failures ?? []);
        Assert.StartsWith(expected, failure, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1, null)]
    [InlineData(10, -1)]
    public void RateLimit_NegativeRateOrBurst_IsRefused(int permits, int? burst)
    {
        var failure = Assert.Single(new RateLimitOptionsValidator().Validate(null, new RateLimitOptions { PermitsPerSecond = permits, Burst = burst }).Failures ?? []);
        Assert.StartsWith("Balancer:RateLimit:PermitsPerSecond and Burst must not be negative", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void RateLimit_ZeroPermits_IsOff()
    {
        Assert.True(new RateLimitOptionsValidator().Validate(null, new RateLimitOptions()).Succeeded);
        Assert.False(new RateLimitOptions().Enabled);
    }
}
