using Distributed.Gateway.Shutdown;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Distributed.Gateway.Tests.Shutdown;

[Trait("Category", "Unit")]
public sealed class ShutdownOptionsValidatorTests
{
    private static ValidateOptionsResult Validate(TimeSpan drain, TimeSpan hostShutdownTimeout) =>
        new ShutdownOptionsValidator(Options.Create(new HostOptions { ShutdownTimeout = hostShutdownTimeout }))
            .Validate(null, new ShutdownOptions { DrainPeriod = drain });

    [Fact]
    public void Validate_Defaults_PassAgainstTheHostsDefaultTimeout()
    {
        Assert.Equal(TimeSpan.FromSeconds(5), new ShutdownOptions().DrainPeriod);
        Assert.True(new ShutdownOptionsValidator(Options.Create(new HostOptions())).Validate(null, new ShutdownOptions()).Succeeded);
    }

    [Fact]
    public void Validate_NoDrain_Passes() => Assert.True(Validate(TimeSpan.Zero, TimeSpan.FromSeconds(30)).Succeeded);

    [Fact]
    public void Validate_NegativeDrain_FailsNamingTheKey()
    {
        var result = Validate(TimeSpan.FromSeconds(-1), TimeSpan.FromSeconds(30));

        Assert.True(result.Failed);
        Assert.Contains("Balancer:Shutdown:DrainPeriod must not be negative", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(30, 30)]
    [InlineData(45, 30)]
    public void Validate_DrainAsLongAsTheHostsShutdownTimeout_FailsNamingBothKeys(int drainSeconds, int timeoutSeconds)
    {
        var result = Validate(TimeSpan.FromSeconds(drainSeconds), TimeSpan.FromSeconds(timeoutSeconds));

        Assert.True(result.Failed);
        Assert.Contains("Balancer:Shutdown:DrainPeriod", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("shutdownTimeoutSeconds", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_InfiniteHostTimeout_AllowsAnyDrain() =>
        Assert.True(Validate(TimeSpan.FromMinutes(10), Timeout.InfiniteTimeSpan).Succeeded);
}
