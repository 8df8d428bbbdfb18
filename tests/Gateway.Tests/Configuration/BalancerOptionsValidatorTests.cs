using Distributed.Gateway.Configuration;
using Distributed.Gateway.SessionKeys;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Tests.Configuration;

[Trait("Category", "Unit")]
public sealed class BalancerOptionsValidatorTests
{
    private static BalancerOptions Valid() => new()
    {
        Pools =
        {
            ["web"] = new PoolOptions
            {
                SessionKey = "Header:X-Session-Id",
                Backends =
                {
                    ["b1"] = new BackendOptions { Address = "http://127.0.0.1:5001" },
                    ["b2"] = new BackendOptions { Address = "https://backend-2.internal:8443/app/", Weight = 3 },
                },
            },
        },
        Routes = { ["all"] = new RouteOptions { Pool = "web" } },
    };

    private static BalancerOptionsValidator Validator(ClaimAuthenticationOptions? authentication = null) =>
        new(Options.Create(authentication ?? new ClaimAuthenticationOptions()));

    private static IEnumerable<string> Errors(BalancerOptions options) =>
        Validator().Validate(null, options).Failures ?? [];

    [Fact]
    public void Validate_SensibleConfiguration_Passes() =>
        Assert.True(Validator().Validate(null, Valid()).Succeeded);

    [Fact]
    public void Validate_ClaimPoolWithoutAuthentication_IsRefusedNamingThePoolAndTheSection()
    {
        var options = Valid();
        options.Pools["web"].SessionKey = "Claim:sub";

        var error = Assert.Single(Errors(options));
        Assert.Contains("Balancer:Pools:web:SessionKey", error, StringComparison.Ordinal);
        Assert.Contains("Balancer:Authentication", error, StringComparison.Ordinal);
        Assert.True(Validator(new ClaimAuthenticationOptions { Authority = "https://login.example.com/tenant", Audience = "web" }).Validate(null, options).Succeeded);
    }

    public static TheoryData<string, Action<BalancerOptions>> Broken => new()
    {
        { "Balancer:Pools must define", o => o.Pools.Clear() },
        { "Balancer:Pools:web:Backends:b1:Address", o => o.Pools["web"].Backends["b1"].Address = "/relative" },
        { "Balancer:Pools:web:Backends:b1:Address", o => o.Pools["web"].Backends["b1"].Address = "ftp://host/" },
        { "Balancer:Pools:web:Backends:b2:Weight", o => o.Pools["web"].Backends["b2"].Weight = 0 },
        { "Balancer:Pools:web:Backends:bad id", o => o.Pools["web"].Backends["bad id"] = new BackendOptions { Address = "http://x/" } },
        { "Balancer:Pools:web:Backends must list", o => o.Pools["web"].Backends.Clear() },
        { "Balancer:Routes:all:Pool", o => o.Routes["all"].Pool = "nope" },
        { "Balancer:Pools:web:BackendTls:CaCertificatePath", o => o.Pools["web"].BackendTls.CaCertificatePath = "/nonexistent/ca.pem" },
        { "Balancer:Pools:web:SessionKey", o => o.Pools["web"].SessionKey = "Query:id" },
        { "Balancer:Pools:web:SessionTtl", o => o.Pools["web"].SessionTtl = TimeSpan.Zero },
        { "Balancer:PinCache:ConfirmInterval", o => o.PinCache.ConfirmInterval = TimeSpan.FromHours(1) },
        { "Balancer:PinCache:MaxConfirmationsPerSecond (100) is below the 445 a second", o => o.PinCache.MaxConfirmationsPerSecond = 100 },
        { "Balancer:PinCache:MaxConfirmationsPerSecond (-1)", o => o.PinCache.MaxConfirmationsPerSecond = -1 },
        { "Balancer:ReportInterval", o => o.ReportInterval = TimeSpan.Zero },
        { "Balancer:ClusterCallTimeout", o => o.ClusterCallTimeout = TimeSpan.FromMinutes(5) },
        { "Balancer:Cookies:SigningKey", o => o.Cookies.SigningKey = "too-short" },
        { "Balancer:Cookies:SigningKey is the placeholder", o => o.Cookies.SigningKey = "change-me-cookie-signing-key" },
        { "Balancer:MaxSessionKeyLength", o => o.MaxSessionKeyLength = 0 },
        { "Balancer:History:Retention", o => o.History.Retention = TimeSpan.FromSeconds(30) },
        { "Balancer:History:Retention", o => o.History.Retention = TimeSpan.FromDays(1) },
        { "Balancer:History:SessionsInterval", o => o.History.SessionsInterval = TimeSpan.Zero },
        { "Balancer:Pools:web:PanicThreshold", o => o.Pools["web"].PanicThreshold = 101 },
        { "Balancer:Pools:web:PanicThreshold", o => o.Pools["web"].PanicThreshold = -1 },
        { "Balancer:Pools:web:HashKey must be set when Policy is Hash", o => o.Pools["web"].Policy = BalancingPolicyKind.Hash },
        { "Balancer:Pools:web:HashKey must be", o => (o.Pools["web"].Policy, o.Pools["web"].HashKey) = (BalancingPolicyKind.Hash, "Query:id") },
        { "Balancer:Pools:web:HashKey is only used with Policy Hash", o => o.Pools["web"].HashKey = "Path" },
        { "Balancer:Pools:web:Policy", o => o.Pools["web"].Policy = (BalancingPolicyKind)42 },
        { "Balancer:Pools:web:Retry:Methods", o => o.Pools["web"].Retry.Methods = ["get"] },
        { "Balancer:Pools:web:Retry:On", o => o.Pools["web"].Retry.On = (RetryOn)8 },
        { "Balancer:Pools:web:BackendProtocol", o => o.Pools["web"].BackendProtocol = (BackendProtocol)7 },
    };

    [Fact]
    public void ToSettings_CarriesThePanicThresholdAndTheFirstPassWait()
    {
        var pool = Valid().Pools["web"];
        pool.PanicThreshold = 30;
        pool.HealthCheck.WaitForFirstPass = true;

        var settings = pool.ToSettings();

        Assert.Equal(30, settings.EffectivePanicThreshold);
        Assert.True(settings.Active.WaitForFirstPass);
        Assert.Equal(50, new PoolOptions().ToSettings().EffectivePanicThreshold); // Envoy's default
    }

    [Theory]
    [MemberData(nameof(Broken))]
    public void Validate_BrokenSetting_FailsNamingTheKey(string key, Action<BalancerOptions> breakIt)
    {
        var options = Valid();
        breakIt(options);

        var errors = Errors(options).ToList();

        Assert.Contains(errors, e => e.Contains(key, StringComparison.Ordinal));
    }
}
